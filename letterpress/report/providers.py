"""Which mailbox provider receives an address: the domain-to-provider table, in one place.

Reports group deliveries by the provider that answers for the recipient's domain, because
that is how senders are judged (Gmail's and Yahoo's bulk-sender rules, Orange's complaint
thresholds, Microsoft's 550 5.7.515).  Domains not listed here are "others"; an erased
ledger row (``erased:<hash>``) has no domain left and is counted there too.
"""

from __future__ import annotations

__all__ = ["PROVIDERS", "provider_of"]

PROVIDERS: dict[str, tuple[str, ...]] = {
    "Orange/Wanadoo": ("orange.fr", "wanadoo.fr", "voila.fr"),
    "Gmail": ("gmail.com", "googlemail.com"),
    "Microsoft": ("outlook.com", "outlook.fr", "hotmail.com", "hotmail.fr", "live.com",
                  "live.fr", "msn.com"),
    "Free": ("free.fr", "aliceadsl.fr", "libertysurf.fr"),
    "SFR": ("sfr.fr", "neuf.fr", "cegetel.net", "club-internet.fr", "numericable.fr", "9online.fr"),
    "La Poste": ("laposte.net",),
    "Yahoo": ("yahoo.com", "yahoo.fr", "ymail.com", "rocketmail.com"),
    "Apple": ("icloud.com", "me.com", "mac.com"),
}
"""Provider name → the domains it receives mail for (the order is the report's order)."""

OTHERS = "autres"
ORDER: tuple[str, ...] = (*PROVIDERS, OTHERS)

_BY_DOMAIN = {domain: name for name, domains in PROVIDERS.items() for domain in domains}


def provider_of(domain_or_address: str) -> str:
    """``"Jean@Wanadoo.fr"`` or ``"wanadoo.fr"`` → ``"Orange/Wanadoo"``; unknown → ``"autres"``."""
    domain = domain_or_address.rpartition("@")[2].strip().lower().rstrip(".")
    return _BY_DOMAIN.get(domain, OTHERS)
