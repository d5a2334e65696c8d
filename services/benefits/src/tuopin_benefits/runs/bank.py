"""The files exchanged with the bank, pure: the payment file out, the result file in.

Payment file (UTF-8 CSV, one line per payment, header first):

    batch_id        the batch, to quote in the result file's name or header
    line_id         the entitlement line; the result file answers by it
    resident_id     the payee's resident ID number, unmasked: rural benefit accounts
                    (one-card social-security accounts) are opened on it, so the bank
                    finds the account by it
    name            the payee's name, for the bank's name check
    amount          yuan with two decimals, never negative
    program         pension, nursing_subsidy or living_subsidy
    period          2020 or 2020-Q3, for the payee's statement

Result file (UTF-8 CSV, header first, one line per payment the bank handled):

    line_id, status (paid | failed), bank_reference (required when paid),
    reason (required when failed)
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from tuopin_shared.contracts.problems import FieldError
from tuopin_shared.contracts.runs import PaymentStatus
from tuopin_shared.kit.errors import field_error

PAYMENT_COLUMNS = ("batch_id", "line_id", "resident_id", "name", "amount", "program", "period")
RESULT_COLUMNS = ("line_id", "status", "bank_reference", "reason")
_RESULTS = (PaymentStatus.PAID.value, PaymentStatus.FAILED.value)
MAX_REFERENCE, MAX_REASON = 100, 500


def payment_rows(rows: Iterable[Iterable[object]], *, header: bool) -> str:
    """CSV text for rows in ``PAYMENT_COLUMNS`` order, with the header when asked."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(PAYMENT_COLUMNS)
    for row in rows:
        writer.writerow(format(v, "f") if isinstance(v, Decimal) else v for v in row)
    return out.getvalue()


@dataclass(frozen=True)
class BankResult:
    line_id: int
    status: PaymentStatus
    bank_reference: str | None
    reason: str | None


def parse_results(content: bytes) -> tuple[list[BankResult], list[FieldError]]:
    """The result file's lines, or every problem found in it (fields named
    ``rows.<n>.<column>``, n counting data lines from 0)."""
    try:
        decoded = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [field_error("body", "the result file must be UTF-8 text", "encoding")]
    reader = csv.DictReader(io.StringIO(decoded, newline=""))
    missing = [c for c in RESULT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return [], [
            field_error(
                "header",
                f"the header must name {', '.join(RESULT_COLUMNS)}; missing {', '.join(missing)}",
                "missing_columns",
            )
        ]
    results: list[BankResult] = []
    errors: list[FieldError] = []
    seen: set[int] = set()
    for index, row in enumerate(reader):
        where = f"rows.{index}"
        raw_id = (row.get("line_id") or "").strip()
        status = (row.get("status") or "").strip().lower()
        reference = (row.get("bank_reference") or "").strip() or None
        reason = (row.get("reason") or "").strip() or None
        row_errors = []
        if not raw_id.isascii() or not raw_id.isdigit():
            row_errors.append(field_error(f"{where}.line_id", "must be a line id", "not_a_line"))
        elif int(raw_id) in seen:
            row_errors.append(
                field_error(f"{where}.line_id", f"line {raw_id} is listed twice", "duplicate")
            )
        if status not in _RESULTS:
            row_errors.append(
                field_error(f"{where}.status", "must be paid or failed", "unknown_status")
            )
        elif status == PaymentStatus.PAID and reference is None:
            row_errors.append(
                field_error(f"{where}.bank_reference", "is required for a paid line", "missing")
            )
        elif status == PaymentStatus.FAILED and reason is None:
            row_errors.append(
                field_error(f"{where}.reason", "is required for a failed line", "missing")
            )
        if reference is not None and len(reference) > MAX_REFERENCE:
            row_errors.append(
                field_error(f"{where}.bank_reference", f"at most {MAX_REFERENCE} characters")
            )
        if reason is not None and len(reason) > MAX_REASON:
            row_errors.append(field_error(f"{where}.reason", f"at most {MAX_REASON} characters"))
        if row_errors:
            errors.extend(row_errors)
            continue
        seen.add(int(raw_id))
        results.append(BankResult(int(raw_id), PaymentStatus(status), reference, reason))
    if not results and not errors:
        errors.append(field_error("body", "the result file has no lines", "empty"))
    return results, errors
