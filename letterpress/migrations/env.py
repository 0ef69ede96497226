"""Alembic environment: runs on the connection letterpress hands it (see letterpress.db)."""

from alembic import context

from letterpress.models import Base

config = context.config
target_metadata = Base.metadata

connection = config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: open our own connection
    from letterpress.db import make_engine

    with make_engine(config.get_main_option("sqlalchemy.url")).connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
