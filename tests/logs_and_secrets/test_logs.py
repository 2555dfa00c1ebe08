"""Log lines: one event per line, values escaped, and no secret in any form."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from archlag import logs
from archlag.secrets import Secret, known_secrets, scrub
from tests.support.planted import archlag_logs, printed_forms

PLANTED = 'planted-log-secret\n"\\\x1bé'  # a newline, a quote, a backslash, an escape, non-ASCII


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """What archlag's own logging, set up at debug, writes."""
    with archlag_logs() as buffer:
        yield buffer


LOG = logging.getLogger("archlag.test")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("linux/arm64", "linux/arm64"),
        ("2.0\n", '"2.0\\x0a"'),  # a trailing newline is not plain: $ would have let it through
        ('say "hi"', '"say \\"hi\\""'),
        (1.5, "1.500"),
    ],
)
def test_values_are_escaped_unless_plain(value: object, expected: str) -> None:
    assert logs.format_value(value) == expected


def test_a_tag_cannot_forge_a_log_line(output: io.StringIO) -> None:
    logs.event(LOG, logging.INFO, "tag_seen", tag="2.0\nlevel=error event=forged")
    lines = output.getvalue().splitlines()
    assert len(lines) == 1
    assert 'tag="2.0\\x0alevel=error event=forged"' in lines[0]


def test_every_form_of_a_secret_is_masked_in_messages_fields_and_exceptions(
    output: io.StringIO,
) -> None:
    secret = Secret(PLANTED)
    for form in printed_forms(PLANTED):
        LOG.debug("sent %s", form)
        logs.event(LOG, logging.WARNING, "failed", error=f"echo {form}", count=3)
        try:
            raise ValueError(f"Illegal header value b'Bearer {form}'")
        except ValueError:
            LOG.exception("poll_crashed")
        LOG.info("stack %s", form, stack_info=True)
    err = output.getvalue()
    assert err.count("***") >= 4 * len(printed_forms(PLANTED))
    for form in printed_forms(PLANTED):
        assert form not in err
    assert "count=3" in err  # numbers are left alone
    assert secret.reveal() == PLANTED


def test_a_secret_is_known_while_a_secret_holds_it_and_forgotten_after() -> None:
    value = "planted-short-lived-secret"
    held = Secret(value)
    copy = Secret(value)
    assert value in known_secrets()
    del held
    assert scrub(f"x {value}") == "x ***"  # the copy still holds it
    del copy
    assert value not in known_secrets()
    assert scrub(f"x {value}") == f"x {value}"


def test_a_secret_that_is_not_utf8_is_scrubbed_and_breaks_nothing() -> None:
    # os.environ turns bytes that are not UTF-8 into lone surrogates
    held = Secret("planted-\udcff-env-secret")
    assert scrub(f"x {held.reveal()} {held.reveal()!r}") == "x *** '***'"
    assert scrub("nothing secret here") == "nothing secret here"


def test_short_values_are_not_scrubbed() -> None:
    held = Secret("abc")
    assert scrub("abcdef abc") == "abcdef abc"
    assert held.reveal() == "abc"


def test_a_record_whose_arguments_do_not_fit_is_still_logged(output: io.StringIO) -> None:
    arguments = ("one",)
    LOG.warning("two %s %s", *arguments)
    assert "log arguments did not fit" in output.getvalue()
