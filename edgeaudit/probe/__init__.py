"""Segmentation probes: plans from the isolation matrix, the probe engine, verdicts, evidence.

``plan`` expands a plan into probes (``model.Probe``, with the scope guard), ``engine`` sends
them and collects answers (``wire`` the raw-socket TCP path, ``wire4`` IPv4 UDP and ICMP,
``_scapy``, the only module that imports scapy, ARP; ``engine6``/``wire6`` IPv6;
``payloads``/``ber`` the UDP service requests), ``verdict`` turns answers into verdicts
(``reference``: when UDP silence is blocked), ``records`` into ``probe.*`` events, and
``schedule`` runs plans on their cron expressions; ``run`` ties one run together.
The nmap XML importer is a collector (``edgeaudit/collect/parsers/nmap.py``) using the same
verdicts.
"""
