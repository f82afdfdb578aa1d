#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fly_certificate
short_description: Manage the TLS certificate of a custom domain on a Fly.io app
version_added: 0.1.0
description:
  - Requests a Let's Encrypt (ACME) certificate for a hostname served by an app, or removes it.
  - Fly.io issues the certificate once DNS points at the app; the result lists the DNS records to set.
  - Optionally waits until the certificate is active.
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - sophia.ops.fly
  - sophia.ops.attributes
  - sophia.ops.attributes.full
options:
  app:
    description:
      - Name of the app that serves the hostname (a name M(sophia.ops.fly_app) accepts).
    type: str
    required: true
  hostname:
    description:
      - The custom domain, for example C(api.sophia-intel.ai), or a wildcard such as C(*.sophia-intel.ai).
      - Something that is not a DNS name fails before any request.
    type: str
    required: true
  state:
    description:
      - V(present) requests a certificate unless the hostname has one; V(absent) removes the hostname and its
        certificates from the app.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - Wait until the certificate is active (Fly.io checks DNS and issues it).
    type: bool
    default: false
  wait_timeout:
    description:
      - How long to wait, in seconds (1 or more), with O(wait=true).
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: TLS for the public API domain, waiting until it is issued
  sophia.ops.fly_certificate:
    app: sophia-unified-api
    hostname: api.sophia-intel.ai
    wait: true
  register: api_cert

- name: Show the DNS records the domain needs
  ansible.builtin.debug:
    var: api_cert.fly_certificate.dns_requirements
"""

RETURN = r"""
fly_certificate:
  description: The certificate as the Machines API describes it; empty once removed.
  returned: always
  type: dict
  contains:
    hostname:
      description: The custom domain.
      type: str
      sample: api.sophia-intel.ai
    status:
      description: C(pending_validation) until DNS is right and the certificate issued, then C(active).
      type: str
      sample: active
    configured:
      description: Whether DNS is set up for the app.
      type: bool
      sample: true
    dns_requirements:
      description: The A, AAAA, CNAME and ACME challenge records the domain needs.
      type: dict
      sample: {"a": ["137.66.10.20"], "cname": "sophia-unified-api.fly.dev"}
"""


from ansible_collections.sophia.ops.plugins.module_utils.fly import FlyModule
from ansible_collections.sophia.ops.plugins.module_utils.fly_platform import check_app_name, check_hostname
from ansible_collections.sophia.ops.plugins.module_utils.input_checks import at_least, given

ACTIVE = "active"


class FlyCertificate(FlyModule):
    supports_check_mode = True
    resource_key = "fly_certificate"
    argument_spec = dict(
        app=dict(type="str", required=True),
        hostname=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=600),
    )

    def __init__(self, module):
        super().__init__(module)
        self.app = self.params["app"]
        self.hostname = self.params["hostname"]

    def validate(self):
        given(self.params, app=check_app_name, hostname=check_hostname, wait_timeout=at_least(1, "seconds"))

    def look_up(self):
        return self.client.get_certificate(self.app, self.hostname)

    def present(self):
        certificate = self.look_up()
        if not certificate:
            self.changed = True
            self.differences.add_all({}, {"hostname": self.hostname})
            if self.check_mode:
                return {"hostname": self.hostname}
            certificate = self.client.request_acme_certificate(self.app, self.hostname)
        if not self.params["wait"] or self.check_mode:
            return certificate
        timeout = self.params["wait_timeout"]
        certificate = self.client.wait_certificate(self.app, self.hostname, certificate, status=ACTIVE,
                                                   timeout=timeout)
        if certificate.get("status") != ACTIVE:
            self.fail("certificate of %s is still %s after %ss; set the DNS records in dns_requirements"
                      % (self.hostname, certificate.get("status"), timeout), fly_certificate=certificate)
        return certificate

    def absent(self):
        certificate = self.look_up()
        if certificate:
            self.changed = True
            self.differences.add_all({"hostname": self.hostname, "status": certificate.get("status")}, {})
            if not self.check_mode:
                self.client.delete_certificate(self.app, self.hostname)
        return {}


def main():
    FlyCertificate.execute()


if __name__ == "__main__":
    main()
