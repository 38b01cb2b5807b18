"""records: enrolment changes (学籍变动) with their proof; outbox rows may carry an attachment (a chart, a spreadsheet)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 22:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

import storage.types

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'enrolment_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('effective_on', sa.Date(), nullable=False),
        sa.Column('status_after', sa.String(length=20), nullable=False),
        sa.Column('school_id', sa.Integer(), nullable=False),
        sa.Column('class_id', sa.Integer(), nullable=False),
        sa.Column('destination_school', sa.String(length=100), nullable=True),
        sa.Column('origin_school', sa.String(length=100), nullable=True),
        sa.Column('approving_body', sa.String(length=100), nullable=True),
        sa.Column('document_no', sa.String(length=60), nullable=True),
        sa.Column('note', sa.String(length=500), nullable=True),
        sa.Column('closed_case_id', sa.Integer(), nullable=True),
        sa.Column('recorded_by', sa.Integer(), nullable=True),
        sa.Column('recorded_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_enrolment_changes_student_id_students')),
        sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_enrolment_changes_school_id_schools')),
        sa.ForeignKeyConstraint(['class_id'], ['classes.id'], name=op.f('fk_enrolment_changes_class_id_classes')),
        sa.ForeignKeyConstraint(['closed_case_id'], ['cases.id'], name=op.f('fk_enrolment_changes_closed_case_id_cases')),
        sa.ForeignKeyConstraint(['recorded_by'], ['people.id'], name=op.f('fk_enrolment_changes_recorded_by_people')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment_changes')),
    )
    with op.batch_alter_table('enrolment_changes') as batch:
        batch.create_index('ix_enrolment_changes_student_on', ['student_id', 'effective_on'])
        batch.create_index(batch.f('ix_enrolment_changes_effective_on'), ['effective_on'])
        batch.create_index(batch.f('ix_enrolment_changes_school_id'), ['school_id'])
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('attachment_name', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('attachment_mime', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('attachment_data', sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column('attachment_path', sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('attachment_path')
        batch.drop_column('attachment_data')
        batch.drop_column('attachment_mime')
        batch.drop_column('attachment_name')
    with op.batch_alter_table('enrolment_changes') as batch:
        batch.drop_index(batch.f('ix_enrolment_changes_school_id'))
        batch.drop_index(batch.f('ix_enrolment_changes_effective_on'))
        batch.drop_index('ix_enrolment_changes_student_on')
    op.drop_table('enrolment_changes')
