"""roll call: calendar, absences, replies, leave, outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:10:44.659641
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('template', sa.String(length=60), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=True),
    sa.Column('entity_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_outbox_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_idempotency_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_person_id'), ['person_id'], unique=False)

    op.create_table('calendar_days',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['county_id'], ['counties.id'], name=op.f('fk_calendar_days_county_id_counties')),
    sa.ForeignKeyConstraint(['created_by'], ['people.id'], name=op.f('fk_calendar_days_created_by_people')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_calendar_days_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_days'))
    )
    with op.batch_alter_table('calendar_days', schema=None) as batch_op:
        batch_op.create_index('ix_calendar_days_day', ['day'], unique=False)

    op.create_table('terms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=True),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['county_id'], ['counties.id'], name=op.f('fk_terms_county_id_counties')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_terms_school_id_schools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_terms'))
    )
    with op.batch_alter_table('terms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_terms_county_id'), ['county_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_terms_school_id'), ['school_id'], unique=False)

    op.create_table('roll_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('draft', sa.JSON(), nullable=False),
    sa.Column('opened_by', sa.Integer(), nullable=False),
    sa.Column('submitted_by', sa.Integer(), nullable=True),
    sa.Column('submitted_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_roll_calls_class_id_classes')),
    sa.ForeignKeyConstraint(['opened_by'], ['people.id'], name=op.f('fk_roll_calls_opened_by_people')),
    sa.ForeignKeyConstraint(['submitted_by'], ['people.id'], name=op.f('fk_roll_calls_submitted_by_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roll_calls')),
    sa.UniqueConstraint('class_id', 'day', name=op.f('uq_roll_calls_class_id_day'))
    )
    op.create_table('absences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('roll_call_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('expected_return', sa.Date(), nullable=True),
    sa.Column('excused', sa.Boolean(), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('recorded_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['recorded_by'], ['people.id'], name=op.f('fk_absences_recorded_by_people')),
    sa.ForeignKeyConstraint(['roll_call_id'], ['roll_calls.id'], name=op.f('fk_absences_roll_call_id_roll_calls')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_absences_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_absences')),
    sa.UniqueConstraint('student_id', 'day', name=op.f('uq_absences_student_id_day'))
    )
    with op.batch_alter_table('absences', schema=None) as batch_op:
        batch_op.create_index('ix_absences_day', ['day'], unique=False)
        batch_op.create_index(batch_op.f('ix_absences_roll_call_id'), ['roll_call_id'], unique=False)

    op.create_table('leave_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('requested_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decided_by'], ['people.id'], name=op.f('fk_leave_requests_decided_by_people')),
    sa.ForeignKeyConstraint(['requested_by'], ['people.id'], name=op.f('fk_leave_requests_requested_by_people')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_leave_requests_student_id_students')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leave_requests'))
    )
    with op.batch_alter_table('leave_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leave_requests_student_id'), ['student_id'], unique=False)

    op.create_table('absence_replies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('absence_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('answer', sa.String(length=20), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=True),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['absence_id'], ['absences.id'], name=op.f('fk_absence_replies_absence_id_absences')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_absence_replies_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_absence_replies'))
    )
    with op.batch_alter_table('absence_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_absence_replies_absence_id'), ['absence_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('absence_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_absence_replies_absence_id'))

    op.drop_table('absence_replies')
    with op.batch_alter_table('leave_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leave_requests_student_id'))

    op.drop_table('leave_requests')
    with op.batch_alter_table('absences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_absences_roll_call_id'))
        batch_op.drop_index('ix_absences_day')

    op.drop_table('absences')
    op.drop_table('roll_calls')
    with op.batch_alter_table('terms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_terms_school_id'))
        batch_op.drop_index(batch_op.f('ix_terms_county_id'))

    op.drop_table('terms')
    with op.batch_alter_table('calendar_days', schema=None) as batch_op:
        batch_op.drop_index('ix_calendar_days_day')

    op.drop_table('calendar_days')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_person_id'))
        batch_op.drop_index('ix_outbox_due')

    op.drop_table('outbox')
