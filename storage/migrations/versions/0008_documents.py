"""formal documents: each issuer's yearly numbering, the documents issued on a case and their delivery records

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'document_counters',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issuer_kind', sa.String(length=10), nullable=False),
        sa.Column('issuer_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('last', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_document_counters')),
        sa.UniqueConstraint('issuer_kind', 'issuer_id', 'year',
                            name=op.f('uq_document_counters_issuer_kind_issuer_id_year')),
    )
    op.create_table(
        'formal_documents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=True),
        sa.Column('issuer_kind', sa.String(length=10), nullable=False),
        sa.Column('issuer_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=80), nullable=False),
        sa.Column('recipient_person_id', sa.Integer(), nullable=True),
        sa.Column('recipient_name', sa.String(length=100), nullable=True),
        sa.Column('copy', sa.Boolean(), nullable=False),
        sa.Column('locale', sa.String(length=10), nullable=False),
        sa.Column('facts', sa.JSON(), nullable=False),
        sa.Column('issued_at', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('issued_by', sa.Integer(), nullable=True),
        sa.Column('delivered_on', sa.Date(), nullable=True),
        sa.Column('delivery_manner', sa.String(length=20), nullable=True),
        sa.Column('delivery_place', sa.String(length=200), nullable=True),
        sa.Column('witness', sa.String(length=100), nullable=True),
        sa.Column('delivery_recorded_by', sa.Integer(), nullable=True),
        sa.Column('delivery_recorded_at', storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_formal_documents_case_id_cases')),
        sa.ForeignKeyConstraint(['recipient_person_id'], ['people.id'],
                                name=op.f('fk_formal_documents_recipient_person_id_people')),
        sa.ForeignKeyConstraint(['issued_by'], ['people.id'], name=op.f('fk_formal_documents_issued_by_people')),
        sa.ForeignKeyConstraint(['delivery_recorded_by'], ['people.id'],
                                name=op.f('fk_formal_documents_delivery_recorded_by_people')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_formal_documents')),
    )
    op.create_index(op.f('ix_formal_documents_case_id'), 'formal_documents', ['case_id'])
    op.create_index('ix_formal_documents_issuer', 'formal_documents', ['issuer_kind', 'issuer_id', 'year', 'seq'])


def downgrade() -> None:
    op.drop_index('ix_formal_documents_issuer', table_name='formal_documents')
    op.drop_index(op.f('ix_formal_documents_case_id'), table_name='formal_documents')
    op.drop_table('formal_documents')
    op.drop_table('document_counters')
