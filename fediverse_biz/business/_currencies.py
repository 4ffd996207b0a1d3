"""ISO 4217 currency codes for salaries and budgets, with the symbols people type instead of codes.

CURRENCIES is generated from Debian's iso-codes 4.15.0 (iso_4217.json), the same source as the
country and language lists in sectors.py, leaving out what no salary or budget is paid in: fund and
accounting units (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), precious metals, SDRs, bond-market
units and the test codes (the X.. codes other than the regional currencies XAF, XCD, XOF, XPF).
"""

from __future__ import annotations

from typing import Final

# fmt: off
CURRENCIES: Final[dict[str, str]] = {
    "AED": "UAE Dirham", "AFN": "Afghani", "ALL": "Lek", "AMD": "Armenian Dram",
    "ANG": "Netherlands Antillean Guilder", "AOA": "Kwanza", "ARS": "Argentine Peso", "AUD": "Australian Dollar",
    "AWG": "Aruban Florin", "AZN": "Azerbaijan Manat", "BAM": "Convertible Mark", "BBD": "Barbados Dollar",
    "BDT": "Taka", "BGN": "Bulgarian Lev", "BHD": "Bahraini Dinar", "BIF": "Burundi Franc",
    "BMD": "Bermudian Dollar", "BND": "Brunei Dollar", "BOB": "Boliviano", "BRL": "Brazilian Real",
    "BSD": "Bahamian Dollar", "BTN": "Ngultrum", "BWP": "Pula", "BYN": "Belarusian Ruble", "BZD": "Belize Dollar",
    "CAD": "Canadian Dollar", "CDF": "Congolese Franc", "CHF": "Swiss Franc", "CLP": "Chilean Peso",
    "CNY": "Yuan Renminbi", "COP": "Colombian Peso", "CRC": "Costa Rican Colon", "CUC": "Peso Convertible",
    "CUP": "Cuban Peso", "CVE": "Cabo Verde Escudo", "CZK": "Czech Koruna", "DJF": "Djibouti Franc",
    "DKK": "Danish Krone", "DOP": "Dominican Peso", "DZD": "Algerian Dinar", "EGP": "Egyptian Pound", "ERN": "Nakfa",
    "ETB": "Ethiopian Birr", "EUR": "Euro", "FJD": "Fiji Dollar", "FKP": "Falkland Islands Pound",
    "GBP": "Pound Sterling", "GEL": "Lari", "GHS": "Ghana Cedi", "GIP": "Gibraltar Pound", "GMD": "Dalasi",
    "GNF": "Guinean Franc", "GTQ": "Quetzal", "GYD": "Guyana Dollar", "HKD": "Hong Kong Dollar", "HNL": "Lempira",
    "HRK": "Kuna", "HTG": "Gourde", "HUF": "Forint", "IDR": "Rupiah", "ILS": "New Israeli Sheqel",
    "INR": "Indian Rupee", "IQD": "Iraqi Dinar", "IRR": "Iranian Rial", "ISK": "Iceland Krona",
    "JMD": "Jamaican Dollar", "JOD": "Jordanian Dinar", "JPY": "Yen", "KES": "Kenyan Shilling", "KGS": "Som",
    "KHR": "Riel", "KMF": "Comorian Franc", "KPW": "North Korean Won", "KRW": "Won", "KWD": "Kuwaiti Dinar",
    "KYD": "Cayman Islands Dollar", "KZT": "Tenge", "LAK": "Lao Kip", "LBP": "Lebanese Pound",
    "LKR": "Sri Lanka Rupee", "LRD": "Liberian Dollar", "LSL": "Loti", "LYD": "Libyan Dinar",
    "MAD": "Moroccan Dirham", "MDL": "Moldovan Leu", "MGA": "Malagasy Ariary", "MKD": "Denar", "MMK": "Kyat",
    "MNT": "Tugrik", "MOP": "Pataca", "MRU": "Ouguiya", "MUR": "Mauritius Rupee", "MVR": "Rufiyaa",
    "MWK": "Malawi Kwacha", "MXN": "Mexican Peso", "MYR": "Malaysian Ringgit", "MZN": "Mozambique Metical",
    "NAD": "Namibia Dollar", "NGN": "Naira", "NIO": "Cordoba Oro", "NOK": "Norwegian Krone", "NPR": "Nepalese Rupee",
    "NZD": "New Zealand Dollar", "OMR": "Rial Omani", "PAB": "Balboa", "PEN": "Sol", "PGK": "Kina",
    "PHP": "Philippine Peso", "PKR": "Pakistan Rupee", "PLN": "Zloty", "PYG": "Guarani", "QAR": "Qatari Rial",
    "RON": "Romanian Leu", "RSD": "Serbian Dinar", "RUB": "Russian Ruble", "RWF": "Rwanda Franc",
    "SAR": "Saudi Riyal", "SBD": "Solomon Islands Dollar", "SCR": "Seychelles Rupee", "SDG": "Sudanese Pound",
    "SEK": "Swedish Krona", "SGD": "Singapore Dollar", "SHP": "Saint Helena Pound", "SLE": "Leone", "SLL": "Leone",
    "SOS": "Somali Shilling", "SRD": "Surinam Dollar", "SSP": "South Sudanese Pound", "STN": "Dobra",
    "SVC": "El Salvador Colon", "SYP": "Syrian Pound", "SZL": "Lilangeni", "THB": "Baht", "TJS": "Somoni",
    "TMT": "Turkmenistan New Manat", "TND": "Tunisian Dinar", "TOP": "Pa'anga", "TRY": "Turkish Lira",
    "TTD": "Trinidad and Tobago Dollar", "TWD": "New Taiwan Dollar", "TZS": "Tanzanian Shilling", "UAH": "Hryvnia",
    "UGX": "Uganda Shilling", "USD": "US Dollar", "UYU": "Peso Uruguayo", "UZS": "Uzbekistan Sum",
    "VED": "Bolívar Soberano", "VES": "Bolívar Soberano", "VND": "Dong", "VUV": "Vatu", "WST": "Tala",
    "XAF": "CFA Franc BEAC", "XCD": "East Caribbean Dollar", "XOF": "CFA Franc BCEAO", "XPF": "CFP Franc",
    "YER": "Yemeni Rial", "ZAR": "Rand", "ZMW": "Zambian Kwacha", "ZWL": "Zimbabwe Dollar",
}
# fmt: on

# Symbols that name one currency unambiguously enough for a job post; "$" is read as USD (the text
# convention's documentation says to write CAD, AUD... for the others).
SYMBOLS: Final[dict[str, str]] = {
    "€": "EUR", "$": "USD", "US$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "₽": "RUB", "₺": "TRY",
    "zł": "PLN", "Kč": "CZK", "Fr.": "CHF",
}  # fmt: skip


def check_currency(value: object) -> str:
    """An ISO 4217 code (any case) or one of SYMBOLS, as the upper-case code; ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError("must be text")
    text = value.strip()
    code = SYMBOLS.get(text, text.upper())
    if code not in CURRENCIES:
        raise ValueError(f"{text[:20]!r} is not an ISO 4217 currency code")
    return code
