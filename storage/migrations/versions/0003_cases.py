"""cases: the escalation ladder

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:41:13.071910
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('township_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=10), nullable=False),
    sa.Column('first_absent_day', sa.Date(), nullable=False),
    sa.Column('opened_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('persuasion_deadline', sa.Date(), nullable=True),
    sa.Column('home_visit_due', sa.Date(), nullable=True),
    sa.Column('reason_found', sa.String(length=30), nullable=True),
    sa.Column('reported_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ordered_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('order_deadline', sa.Date(), nullable=True),
    sa.Column('closed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('outcome_note', sa.String(length=500), nullable=True),
    sa.Column('watch_until', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_cases_school_id_schools')),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_cases_student_id_students')),
    sa.ForeignKeyConstraint(['township_id'], ['townships.id'], name=op.f('fk_cases_township_id_townships')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_school_id'), ['school_id'], unique=False)
        batch_op.create_index('ix_cases_stage', ['stage'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_student_id'), ['student_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_township_id'), ['township_id'], unique=False)
        batch_op.create_index('uq_cases_open_student', ['student_id'], unique=True, sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_person_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_person_id'], ['people.id'], name=op.f('fk_case_events_actor_person_id_people')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)

    op.create_table('case_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=60), nullable=False),
    sa.Column('done_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_steps_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_steps')),
    sa.UniqueConstraint('case_id', 'step', name=op.f('uq_case_steps_case_id_step'))
    )
    op.create_table('persuasion_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('on_day', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('visitors', sa.String(length=200), nullable=False),
    sa.Column('people_met', sa.String(length=200), nullable=True),
    sa.Column('reason_found', sa.String(length=30), nullable=False),
    sa.Column('attitude', sa.String(length=20), nullable=False),
    sa.Column('next_step', sa.String(length=500), nullable=True),
    sa.Column('succeeded', sa.Boolean(), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=False),
    sa.Column('recorded_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_persuasion_attempts_case_id_cases')),
    sa.ForeignKeyConstraint(['recorded_by'], ['people.id'], name=op.f('fk_persuasion_attempts_recorded_by_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_persuasion_attempts'))
    )
    with op.batch_alter_table('persuasion_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_persuasion_attempts_case_id'), ['case_id'], unique=False)

    op.create_table('support_referrals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('requested_by', sa.Integer(), nullable=True),
    sa.Column('requested_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_support_referrals_case_id_cases')),
    sa.ForeignKeyConstraint(['requested_by'], ['people.id'], name=op.f('fk_support_referrals_requested_by_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_support_referrals'))
    )
    with op.batch_alter_table('support_referrals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_referrals_case_id'), ['case_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('support_referrals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_support_referrals_case_id'))

    op.drop_table('support_referrals')
    with op.batch_alter_table('persuasion_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_persuasion_attempts_case_id'))

    op.drop_table('persuasion_attempts')
    op.drop_table('case_steps')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))

    op.drop_table('case_events')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('uq_cases_open_student', sqlite_where=sa.text('closed_at IS NULL'), postgresql_where=sa.text('closed_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_cases_township_id'))
        batch_op.drop_index(batch_op.f('ix_cases_student_id'))
        batch_op.drop_index('ix_cases_stage')
        batch_op.drop_index(batch_op.f('ix_cases_school_id'))

    op.drop_table('cases')
