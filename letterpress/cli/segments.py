"""``letterpress segments …`` and the ``--segment`` / ``--where`` options other commands share.

A segment is part of a list chosen by an expression over subscriber attributes
(``departement in [04, 05, 06] and role = elu``), named in letterpress.toml or given on the
command line; see :mod:`letterpress.audience.segments`.
"""

from __future__ import annotations

import click

from ..audience import ensure_lists
from ..audience.attribute_names import UnknownAttribute, unknown_attributes
from ..audience.segments import Segment, count_segment, ensure_attribute_indexes, resolve_segment
from .common import pass_project, publication_option

__all__ = ["commands", "prepare_segment", "segment_options", "segments"]


def segment_options(f):
    """``--segment NAME`` and ``--where EXPR`` (one or the other)."""
    f = click.option("--where", "where", default=None, metavar="EXPR",
                     help="Only subscribers matching EXPR, e.g. "
                          "'departement in [04, 05] and role = elu' (see docs/audience.md).")(f)
    return click.option("--segment", "segment", default=None, metavar="NAME",
                        help="Only the segment NAME of [publications.X.segments] in "
                             "letterpress.toml.")(f)


def prepare_segment(project, publication, segment: str | None, where: str | None
                    ) -> Segment | None:
    """Resolve the options and make sure its attributes are indexed (once, with a note).

    An attribute no subscriber has is most likely misspelt: a warning on stderr (with the
    closest known name), and no index for it — it would serve nobody.
    """
    chosen = resolve_segment(dict(publication.segments), name=segment, where=where)
    if chosen is not None:
        with project.session() as session:
            unknown = unknown_attributes(session, chosen.attributes)
            nobody = {u.name for u in unknown}
            created = ensure_attribute_indexes(session, chosen.attributes - nobody)
        for attribute in unknown:
            click.echo(_unknown_warning(attribute), err=True)
        for name in created:
            click.echo(f"created index {name} (once, so segments count fast)", err=True)
    return chosen


def _unknown_warning(attribute: UnknownAttribute, shown: int = 10) -> str:
    known = ", ".join(attribute.known[:shown]) + ("…" if len(attribute.known) > shown else "")
    guess = f"; did you mean '{attribute.suggestion}'?" if attribute.suggestion else ""
    return (f"warning: no subscriber has the attribute '{attribute.name}' "
            f"(known: {known or 'none'}){guess}")


@click.group("segments")
def segments() -> None:
    """Parts of a list chosen by subscriber attributes: list, check, index.

    Counting a segment is `letterpress subscribers count --segment NAME` (or --where EXPR).
    """


@segments.command("list")
@publication_option
@click.option("--all-publications", is_flag=True, help="Segments of every publication.")
@pass_project
def list_command(project, publication, all_publications):
    """Named segments of letterpress.toml with how many active subscribers each holds."""
    pubs = (list(project.settings.publications.values()) if all_publications
            else [project.settings.publication(publication)])
    with project.session() as session:
        ensure_lists(session, project.settings)
    for pub in pubs:
        if not pub.segments:
            click.echo(f"{pub.slug}: no segments ([publications.{pub.slug}.segments])")
            continue
        for name, expression in pub.segments:
            seg = prepare_segment(project, pub, name, None)
            with project.read_session() as session:
                n = count_segment(session, pub.default_list, seg)
            click.echo(f"{pub.slug}\t{name}\t{n}\t{Segment.parse(expression).canonical}")


@segments.command("check")
@click.argument("expression")
def check_command(expression):
    """Parse EXPRESSION and print it in normal form, or show where it is wrong."""
    click.echo(Segment.parse(expression).canonical)


@segments.command("index")
@publication_option
@pass_project
def index_command(project, publication):
    """Create the indexes of every attribute the publication's segments use."""
    pub = project.settings.publication(publication)
    names = set().union(*(Segment.parse(e).attributes for _n, e in pub.segments)) \
        if pub.segments else set()
    with project.session() as session:
        created = ensure_attribute_indexes(session, names)
    click.echo(f"{len(created)} index(es) created" + (f": {', '.join(created)}" if created
                                                     else "; all were there"))


commands = [segments]
