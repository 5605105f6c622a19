from __future__ import annotations

import pytest

from postwarden.transports.smtp_path import Mailbox, PathError, parse_mailbox, split_path


@pytest.mark.parametrize(
    ("arg", "mailbox", "params"),
    [
        ("FROM:<alice@demo.gov.hk>", Mailbox("alice", "demo.gov.hk"), ""),
        ("from: <Alice.B+x@Demo.Gov.HK> SIZE=100", Mailbox("Alice.B+x", "demo.gov.hk"), "SIZE=100"),
        ("FROM:<>", None, ""),
        ("FROM:<> BODY=8BITMIME", None, "BODY=8BITMIME"),
        ("FROM:<o'brien{1}@xn--fiq228c.hk>", Mailbox("o'brien{1}", "xn--fiq228c.hk"), ""),
    ],
)
def test_split_path_takes_the_plain_forms(arg: str, mailbox: Mailbox | None, params: str) -> None:
    assert split_path(arg, "FROM:") == (mailbox, params)


@pytest.mark.parametrize(
    "arg",
    [
        "FROM:alice@demo.gov.hk",
        "FROM:<alice@demo.gov.hk",
        "FROM:<alice@demo.gov.hk>x",
        "TO:<alice@demo.gov.hk>",
        "FROM:<@a.example,@b.example:alice@demo.gov.hk>",
        'FROM:<"a b"@demo.gov.hk>',
        "FROM:<a@b@demo.gov.hk>",
        "FROM:<alice@demo..gov.hk>",
        "FROM:<.alice@demo.gov.hk>",
        "FROM:<alice.@demo.gov.hk>",
        "FROM:<alice@demo_gov.hk>",
        "FROM:<alice@[127.0.0.1]>",
        "FROM:<alice@>",
        "FROM:<@demo.gov.hk>",
        "FROM:<alice\t@demo.gov.hk>",
        "FROM:<alicé@demo.gov.hk>",
        "FROM:<" + "a" * 250 + "@d.hk>",
        "FROM:<a@" + ".".join(["d" * 63] * 5) + ">",
    ],
)
def test_split_path_refuses_everything_else(arg: str) -> None:
    with pytest.raises(PathError):
        split_path(arg, "FROM:")


def test_mailbox_within_its_domain_and_subdomains_only() -> None:
    m = parse_mailbox("clerk@HQ.demo.gov.hk")
    assert m.within("demo.gov.hk")
    assert m.within("hq.demo.gov.hk")
    assert not m.within("gov.hk.evil")
    assert not parse_mailbox("a@xdemo.gov.hk").within("demo.gov.hk")
