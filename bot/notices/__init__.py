"""Notices: the outbox front door, absence notices to guardians, and reachability of contact points."""
