"""redact.py: a storage URL's password as *** wherever the URL or a driver's message is printed or stored."""

import pytest

from tuner.redact import mask, mask_text


@pytest.mark.parametrize("url, masked", [
    ("postgresql://tuner:s3cret@db:5432/studies", "postgresql://tuner:***@db:5432/studies"),
    ("postgresql://tuner:p@ss@db/studies", "postgresql://tuner:***@db/studies"),  # an @ inside the password
    ("postgresql://tuner@db/studies", "postgresql://tuner@db/studies"),  # no password: nothing to hide
    ("postgresql://db/studies?user=tuner&password=s3cret&sslmode=require",
     "postgresql://db/studies?user=tuner&password=***&sslmode=require"),
    ("mysql://db/x?PWD=s3cret", "mysql://db/x?PWD=***"),
    ("sqlite:///runs/study.db", "sqlite:///runs/study.db"),
])
def test_mask_hides_the_password_and_keeps_the_rest(url, masked):
    assert mask(url) == masked
    assert "s3cret" not in mask(url) and "p@ss" not in mask(url)


def test_a_drivers_message_loses_the_password_as_written_and_as_quoted():
    url = "postgresql://tuner:a%2Fb@db/studies"  # the password a/b, quoted in the URL
    text = 'connection to "db" failed: password "a/b" (a%2Fb) rejected'
    assert mask_text(text, url) == 'connection to "db" failed: password "***" (***) rejected'
    assert mask_text(text, "sqlite:///x.db") == text  # no password: the message as it was
