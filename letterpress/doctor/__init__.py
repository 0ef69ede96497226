"""``letterpress doctor``: is the sender's domain ready for Gmail, Yahoo, Microsoft, Orange?

Real DNS queries (dnspython) check SPF covers the relay, the DKIM key published matches the
configured one, DMARC exists and aligns with the From domain, bounces can reach the
Return-Path domain, and the reader pages and one-click unsubscribe URL answer over https.
"""

from .checks import Diagnosis, Finding, diagnose, relay_addresses
from .dns import DnsClient, DnsError
from .spf import SpfResult, check_host

__all__ = ["Diagnosis", "DnsClient", "DnsError", "Finding", "SpfResult", "check_host",
           "diagnose", "relay_addresses"]
