"""Check-digit algorithms of the number-shaped detectors. Pure; digits as str."""

from __future__ import annotations

# Length of an IBAN per country (ISO 13616 registry, the countries seen in practice).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BR": 29, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22,
    "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29,
    "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of payment card numbers."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616: the registered length for the country and mod 97 == 1."""
    value = iban.replace(" ", "").upper()
    if len(value) < 15 or not value.isalnum() or not value.isascii():
        return False
    if IBAN_LENGTHS.get(value[:2]) != len(value) or not value[2:4].isdigit():
        return False
    moved = value[4:] + value[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def my_number_check_digit(first11: str) -> int:
    """The check digit of a Japanese individual number (My Number) from its first 11 digits."""
    total = 0
    for n, ch in enumerate(reversed(first11), start=1):
        q = n + 1 if n <= 6 else n - 5
        total += (ord(ch) - 48) * q
    rest = total % 11
    return 0 if rest <= 1 else 11 - rest


def my_number_valid(digits: str) -> bool:
    return (
        len(digits) == 12
        and digits.isdigit()
        and digits.isascii()
        and my_number_check_digit(digits[:11]) == ord(digits[11]) - 48
    )


def corporate_number_check_digit(base12: str) -> int:
    """The leading check digit of a Japanese corporate number from its other 12 digits."""
    total = 0
    for n, ch in enumerate(reversed(base12), start=1):
        total += (ord(ch) - 48) * (2 if n % 2 == 0 else 1)
    return 9 - total % 9


def corporate_number_valid(digits: str) -> bool:
    return (
        len(digits) == 13
        and digits.isdigit()
        and digits.isascii()
        and corporate_number_check_digit(digits[1:]) == ord(digits[0]) - 48
    )
