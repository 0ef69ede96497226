"""Reader-facing strings: every language complete, with the same placeholders."""

from __future__ import annotations

import re
import string

from letterpress.web.i18n import DEFAULT_LANGUAGE, STRINGS, gettext


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_language_has_every_string_with_the_same_placeholders():
    reference = STRINGS[DEFAULT_LANGUAGE]
    assert DEFAULT_LANGUAGE == "fr" and next(iter(STRINGS)) == "fr"
    for language, table in STRINGS.items():
        assert set(table) == set(reference), language
        for key, text in table.items():
            assert _fields(text) == _fields(reference[key]), (language, key)


def test_unknown_language_falls_back_to_french():
    assert gettext("de", "unsub_title") == "Se désinscrire"
    assert gettext("en", "unsub_title") == "Unsubscribe"


def test_templates_hold_no_hard_coded_reader_text():
    from pathlib import Path

    import letterpress.web

    folder = Path(letterpress.web.__file__).parent / "templates"
    for template in folder.glob("*.html"):
        text = re.sub(r"{%.*?%}|{{.*?}}|<[^>]+>", " ", template.read_text(), flags=re.S)
        # The robots directive of a block is for crawlers, not readers.
        words = [w for w in re.findall(r"[A-Za-zÀ-ÿ']{3,}", text)
                 if w not in ("index", "follow", "noindex", "nofollow")]
        assert words == [], f"{template.name}: {words}"


def test_wsgi_factory(project_dir, project_env, monkeypatch):
    from letterpress.web import wsgi_app

    for key, value in project_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LETTERPRESS_PROJECT", str(project_dir))
    app = wsgi_app()
    assert app.test_client().get("/healthz").data == b"ok\n"
