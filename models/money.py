"""Money in a plan and in the costs a program office records: ISO 4217 currencies, non-negative
decimal amounts, and the business case a transition is measured against."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field

from models.base import Strict

_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES
    VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
"""
ISO_4217 = frozenset(_CODES.split())
"""The active ISO 4217 currency codes (funds, metals and testing codes left out)."""


def _iso_4217(code: str) -> str:
    if code not in ISO_4217:
        raise ValueError(f"'{code}' is not an ISO 4217 currency code; write one such as EUR, USD or GBP")
    return code


def _plain(amount: Decimal) -> Decimal:
    # Decimal keeps the form it was typed in: ``1e3`` would be recorded, and shown in the trail,
    # as ``1E+3``. An amount with a positive exponent is written out to the cent instead; any other
    # prints as typed already (digits of other scripts are read as the ASCII digits they stand for).
    exponent = amount.as_tuple().exponent
    # (max_digits and decimal_places leave at most 13 whole digits, so the cents still fit)
    return amount.quantize(Decimal("0.01")) if isinstance(exponent, int) and exponent > 0 else amount


Currency = Annotated[str, AfterValidator(_iso_4217)]
"""A currency as its ISO 4217 code (``EUR``)."""
Amount = Annotated[Decimal, Field(ge=0, max_digits=15, decimal_places=2, allow_inf_nan=False)]
"""A sum of money: non-negative, to the cent, written as a number (``120000`` or ``1250.50``)."""
Spent = Annotated[Decimal, Field(gt=0, max_digits=15, decimal_places=2, allow_inf_nan=False), AfterValidator(_plain)]
"""A cost recorded: more than zero, to the cent; ``1e3`` is kept as ``1000.00``."""


class BusinessCase(Strict):
    """What the outsourcing was expected to save: a year's savings against the in-house operation,
    and the one-off costs of the transition, in one currency."""

    currency: Currency
    annual_savings: Amount
    """The savings a year of steady state is expected to bring, against the in-house baseline."""
    one_off_costs: Amount = Decimal(0)
    """What the transition itself was expected to cost, once (people, travel, tooling, exits)."""
