"""API fuzzing: schemathesis drives every operation of our own OpenAPI schema.

Authenticated as a normal member of a real organisation. Any 5xx fails, and so does a
response that contradicts the schema. Examples per operation: ``TACK_FUZZ_EXAMPLES``
(small in CI, large in ``make fuzz``).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("TACK_FUZZ_EXAMPLES", "5"))


@pytest.fixture
def keep_test_connection():
    """As Django's test client does: requests must not close the test transaction's connection."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_member(org, member, owner):
    from im.actions import do_create_group, do_send_message

    group = do_create_group(owner, name="Fuzzed", member_ids=[member.pk])
    do_send_message(owner, group, body="hello")
    return member


def test_no_operation_answers_5xx_or_off_schema(fuzz_member, keep_test_connection):
    from django.core.wsgi import get_wsgi_application
    from hypothesis import given

    from core.actions import do_create_api_token

    member = fuzz_member
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    failures: list[str] = []
    statuses: dict[int, int] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def exercise(case):
            # A fresh token each time: logout and token revocation are among the operations.
            token = do_create_api_token(member.user, name="fuzz").secret
            if "org_id" in (case.path_parameters or {}):
                case.path_parameters["org_id"] = member.org_id
            response = case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"},
                checks=[
                    not_a_server_error,
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        try:
            exercise()
        except (Exception, BaseExceptionGroup) as exc:  # collect every failure, report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    assert operations > 40
    assert not failures, "\n\n".join(failures)
    # The fuzzer must reach the code, not bounce off authentication or routing.
    successes = sum(n for status, n in statuses.items() if status < 300)
    assert successes >= operations // 3, statuses
    print(f"fuzzed {operations} operations: {dict(sorted(statuses.items()))}")
