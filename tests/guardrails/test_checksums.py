"""Valid and invalid vectors for every check-digit algorithm, directly and through detectors."""

from __future__ import annotations

import pytest

from sekisho.guardrails.checksums import (
    corporate_number_check_digit,
    corporate_number_valid,
    iban_valid,
    luhn_valid,
    my_number_check_digit,
    my_number_valid,
)
from tests.guardrails import corpus
from tests.guardrails.helpers import values


@pytest.mark.parametrize("number", corpus.CARDS_VALID)
def test_valid_cards_pass_luhn_and_are_found(number: str) -> None:
    assert luhn_valid(number)
    assert values("payment_card", f"card {number} ok") == [number]


@pytest.mark.parametrize("number", corpus.CARDS_INVALID)
def test_invalid_cards_are_not_found(number: str) -> None:
    assert values("payment_card", f"card {number} ok") == []


def test_my_number_vectors_from_the_issue() -> None:
    assert my_number_valid("123456789018")
    assert my_number_valid("621498320257")
    assert not my_number_valid("621498320258")
    assert my_number_check_digit("62149832025") == 7


@pytest.mark.parametrize("number", corpus.MY_NUMBER_VALID)
def test_valid_my_numbers(number: str) -> None:
    assert my_number_valid(number)
    assert values("jp_my_number", f"マイナンバー {number}") == [number]


@pytest.mark.parametrize("number", corpus.MY_NUMBER_INVALID)
def test_invalid_my_numbers(number: str) -> None:
    assert not my_number_valid(number)
    assert values("jp_my_number", f"マイナンバー {number}") == []


def test_every_wrong_my_number_check_digit_is_refused() -> None:
    for base in ("12345678901", "62149832025", "00000000001"):
        good = my_number_check_digit(base)
        assert [d for d in range(10) if my_number_valid(base + str(d))] == [good]


@pytest.mark.parametrize("number", corpus.CORPORATE_VALID)
def test_valid_corporate_numbers(number: str) -> None:
    assert corporate_number_valid(number)
    assert values("jp_corporate_number", f"法人番号 {number}") == [number]
    assert values("jp_corporate_number", f"登録番号: T{number}") == [f"T{number}"]


@pytest.mark.parametrize("number", corpus.CORPORATE_INVALID)
def test_invalid_corporate_numbers(number: str) -> None:
    assert not corporate_number_valid(number)
    assert values("jp_corporate_number", f"法人番号 {number}") == []


def test_corporate_check_digit_of_the_tax_agency() -> None:
    assert corporate_number_check_digit("000012050002") == 7


def test_thirteen_bare_digits_need_a_sign_to_be_a_corporate_number() -> None:
    assert values("jp_corporate_number", "ts=7000012050002") == []
    assert values("jp_corporate_number", "epoch_ms 7000012050002") == []


@pytest.mark.parametrize("iban", corpus.IBAN_VALID)
def test_valid_ibans_grouped_or_not(iban: str) -> None:
    assert iban_valid(iban)
    grouped = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    assert values("iban", f"IBAN {iban}.") == [iban]
    assert values("iban", f"IBAN {grouped}.") == [grouped]


@pytest.mark.parametrize("iban", corpus.IBAN_INVALID)
def test_invalid_ibans(iban: str) -> None:
    assert not iban_valid(iban)
    assert values("iban", f"IBAN {iban}.") == []
