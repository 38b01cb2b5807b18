"""Linking people to the bot: invite codes, phone matching, consent, and the invites command."""
