"""A person erased from the audience leaves no readable trace in the delivery ledger."""

from click.testing import CliRunner
from sqlalchemy import select, text

from letterpress.cli import main
from letterpress.delivery import Delivery, prepare_run, send_run
from letterpress.transports import MemoryTransport

from .fixtures_delivery import *  # noqa: F403 - fixtures


def test_forget_erases_the_ledger_copies(project, project_dir, project_env, rendered,
                                         add_subscribers, engine):
    emails = add_subscribers(3)
    with project.session() as session:
        run = prepare_run(session, rendered, "pvd", clock=project.clock)
    report = send_run(project, run.id, MemoryTransport())
    assert report.sent == 3

    result = CliRunner().invoke(main, ["-C", str(project_dir), "subscribers", "forget",
                                       emails[1].upper(), "--yes"], env=project_env)
    assert result.exit_code == 0, result.output

    with project.session() as session:
        rows = session.scalars(select(Delivery).where(Delivery.run_id == run.id)
                               .order_by(Delivery.id)).all()
        assert [r.state for r in rows] == ["sent"] * 3  # the run's figures do not change
        assert rows[0].email == emails[0] and rows[2].email == emails[2]
        assert rows[1].email.startswith("erased:") and rows[1].name == ""
    with engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM deliveries"))
                        for v in row)
    assert emails[1] not in dump and "n°1" not in dump  # neither address nor name
