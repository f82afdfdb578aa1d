# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Sophia Intel AI platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet
short_description: The Sophia platform's fleet, Fly.io machines and Lambda Cloud instances, as hosts
version_added: 0.1.0
description:
  - Lists the machines of the platform's Fly.io apps and the Lambda Cloud GPU instances as inventory hosts.
  - Fly machines are not reached over SSH. Their hostvars (C(fly_app), C(fly_machine_id), ...) carry what a play
    needs to act on them through the Machines API, and they get C(ansible_connection=local) so that tasks aimed at
    them run on the controller.
  - The group C(fly_machines) gets C(ansible_python_interpreter={{ ansible_playbook_python }}), the Python that
    runs C(ansible-playbook) and has the collection's requirements, so a play acting on Fly machine hosts needs
    no interpreter set by hand. It is a group variable of the inventory source, the weakest kind of inventory
    variable, so C(group_vars/all), C(group_vars/fly_machines), C(host_vars) and O(compose) override it.
  - Lambda instances get C(ansible_host) (their public IP) and C(ansible_user=ubuntu), ready for SSH.
  - Hosts are in the groups C(fly_machines) and C(lambda_instances); C(compose), C(groups) and C(keyed_groups) add
    more. Hostvars carry a C(fly_) or C(lambda_) prefix.
  - The configuration file must be named C(fleet.yml) or C(fleet.yaml).
  - Each enabled provider needs its credential. A missing or empty O(fly_api_token) or O(lambda_api_key) (after
    templating) fails the inventory at once, naming the option and its environment variable, before any request.
  - When a provider cannot be listed the inventory fails, naming the provider and the cause (O(on_provider_error)).
notes:
  - Ansible reports a failing inventory source as a warning and goes on without its hosts unless
    C(any_unparsed_is_failed) is set (C([inventory]) section of C(ansible.cfg), or
    E(ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED)). This project's C(ansible.cfg) sets it, so that a failure of this
    plugin stops C(ansible-playbook) and C(ansible-inventory) with an error instead of running on a partial
    inventory.
  - Instance credentials (each Lambda instance's Jupyter URL and token) are neither cached nor put in hostvars
    unless O(include_credentials=true).
  - The cache (O(cache=true)) keeps only the fields the hostvars are made of. Its files are written with mode
    C(0600), and a cache directory the plugin creates with mode C(0700). The cache key holds, besides the
    configuration file's path, each provider's endpoint, the Fly.io organisation and O(fly_apps), so that pointing
    the inventory elsewhere never serves the hosts listed from the old endpoint. A listing with a provider left out
    (O(on_provider_error=keep_healthy)) is never cached.
author:
  - Sophia Intel AI platform team (@sophia-intel)
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: The name of this plugin.
    type: str
    required: true
    choices: [sophia.ops.fleet]
  fly_enabled:
    description: List Fly.io machines. When false, no Fly.io token is needed.
    type: bool
    default: true
  fly_api_token:
    description:
      - Fly.io API token. May be a template (for example a vaulted variable or an environment lookup).
      - Required (not empty once templated) when O(fly_enabled=true); without it the inventory fails before any
        request, naming this option and E(FLY_API_TOKEN).
    type: str
    env:
      - name: FLY_API_TOKEN
  fly_api_url:
    description: Machines API base URL. May be a template. Part of the cache key.
    type: str
    default: https://api.machines.dev/v1
    env:
      - name: FLY_API_URL
  fly_org_slug:
    description: Organization whose apps are listed when O(fly_apps) is empty. Part of the cache key.
    type: str
    default: personal
  fly_apps:
    description: Only these apps. Part of the cache key.
    type: list
    elements: str
    default: []
  lambda_enabled:
    description: List Lambda Cloud instances. When false, no Lambda Cloud API key is needed.
    type: bool
    default: true
  lambda_api_key:
    description:
      - Lambda Cloud API key. May be a template.
      - Required (not empty once templated) when O(lambda_enabled=true); without it the inventory fails before any
        request, naming this option and E(LAMBDA_API_KEY).
    type: str
    env:
      - name: LAMBDA_API_KEY
  lambda_api_url:
    description: Lambda Cloud API base URL. May be a template. Part of the cache key.
    type: str
    default: https://cloud.lambda.ai/api/v1
    env:
      - name: LAMBDA_API_URL
  include_credentials:
    description:
      - Add each Lambda instance's Jupyter URL and token to its hostvars as C(lambda_jupyter_url) and
        C(lambda_jupyter_token).
      - They give access to the instance, so they are left out by default; with V(true) they are also kept in the
        cache (mode C(0600)), and they appear in the output of C(ansible-inventory --list) and C(--host).
    type: bool
    default: false
  on_provider_error:
    description:
      - What to do when one provider cannot be listed.
      - V(fail) fails the inventory, naming the provider, its endpoint and the cause.
      - V(keep_healthy) lists the other provider's hosts and prints a warning naming the provider left out, when
        the failure is an outage (no answer, a 5xx, 408 or 429 after the retries). Refused credentials and other
        4xx answers are configuration errors and still fail, as does the failure of every enabled provider.
    type: str
    choices: [fail, keep_healthy]
    default: fail
  regions:
    description: Only machines and instances in these regions.
    type: list
    elements: str
    default: []
  states:
    description: Only Fly machines in these states and Lambda instances with these statuses.
    type: list
    elements: str
    default: []
  tags:
    description: Only hosts with all these tags (Lambda) or metadata (Fly), name to value.
    type: dict
    default: {}
"""

EXAMPLES = r"""
# inventories/prod/fleet.yml
plugin: sophia.ops.fleet
fly_org_slug: sophia-intel
fly_api_token: "{{ lookup('ansible.builtin.env', 'FLY_API_TOKEN') }}"
states: [started, active]
# A Lambda Cloud outage leaves the Fly.io machines listed, with a warning (the default fails the inventory).
on_provider_error: keep_healthy
keyed_groups:
  - key: fly_service
    prefix: service
  - key: lambda_instance_type
    prefix: gpu
groups:
  gpu_workers: lambda_pool == 'sophia-gpu-embed'
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: .cache/inventory

# Jupyter on the GPU instances: their URL and token as hostvars (and in the cache), asked for explicitly.
# plugin: sophia.ops.fleet
# fly_enabled: false
# include_credentials: true
"""

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.sophia.ops.plugins.module_utils.api_client import APIError
from ansible_collections.sophia.ops.plugins.module_utils.fleet_hostvars import (
    LAMBDA_CREDENTIAL_FIELDS, fly_hostvars, lambda_hosts)
from ansible_collections.sophia.ops.plugins.module_utils.fly_api import FlyClient
from ansible_collections.sophia.ops.plugins.module_utils.lambda_api import LambdaClient

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 templates every string that is not marked unsafe
    def trust_as_template(value):
        return value

display = Display()

# Apps whose machines are listed at the same time (flyctl works on eight things at a time).
LISTING_WORKERS = 8

# Each provider: its name in messages, the option and the environment variable of its credential, its switch.
PROVIDERS = {
    "fly": {"title": "Fly.io", "credential": "fly_api_token", "env": "FLY_API_TOKEN", "enabled": "fly_enabled",
            "url": "fly_api_url"},
    "lambda": {"title": "Lambda Cloud", "credential": "lambda_api_key", "env": "LAMBDA_API_KEY",
               "enabled": "lambda_enabled", "url": "lambda_api_url"},
}

# What the cache keeps of each API object: the fields the hostvars are made of, nothing else (a machine's config
# can carry file contents and environment values; an instance carries its Jupyter token).
FLY_MACHINE_FIELDS = ("id", "name", "region", "state", "instance_id", "private_ip")
LAMBDA_INSTANCE_FIELDS = ("id", "name", "status", "ip", "private_ip", "hostname", "tags")

CACHE_FILE_MODE = 0o600

CONTROLLER_PYTHON = "{{ ansible_playbook_python }}"


def is_outage(exc):
    """No answer, a server error or throttling that outlasted the retries: the provider is down, not misconfigured."""
    status = getattr(exc, "status", None)
    return isinstance(exc, APIError) and (status is None or status >= 500 or status in (408, 429))


def fly_record(machine):
    config = machine.get("config") or {}
    record = dict((key, machine.get(key)) for key in FLY_MACHINE_FIELDS)
    record["config"] = {"image": config.get("image"), "metadata": config.get("metadata") or {}}
    return record


def lambda_record(instance, credentials=False):
    fields = LAMBDA_INSTANCE_FIELDS + (LAMBDA_CREDENTIAL_FIELDS if credentials else ())
    record = dict((key, instance.get(key)) for key in fields)
    record["region"] = {"name": (instance.get("region") or {}).get("name")}
    record["instance_type"] = {"name": (instance.get("instance_type") or {}).get("name")}
    return record


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "sophia.ops.fleet"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("fleet.yml", "fleet.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        # The cache plugin is set up here and makes its directory with the process umask: one made for this
        # inventory is its owner's alone.
        umask = os.umask(0o077)
        try:
            self._read_config_data(path)
        finally:
            os.umask(umask)
        # Credentials are checked before the cache is read too: a run without them fails the same either way.
        access = self.provider_access()
        cache_key = self.fleet_cache_key(path, access)
        fleet = None
        if self.get_option("cache") and cache:
            try:
                fleet = self._cache[cache_key]
            except KeyError:
                fleet = None
        if not isinstance(fleet, dict) or set(fleet) != {"fly", "lambda"}:
            fleet, complete = self.read_fleet(access)
            # A listing with a provider left out would hide its hosts for the whole cache timeout.
            if self.get_option("cache") and complete:
                self._cache[cache_key] = fleet
        self.populate(fleet)

    def update_cache_if_changed(self):
        super().update_cache_if_changed()
        self.restrict_cache_files()

    def restrict_cache_files(self):
        """File cache plugins (jsonfile, yaml, pickle) write their files mode 0644; the fleet's are the owner's.
        The file name is the cache prefix, a schema mark (ansible-core 2.19) and the key: found by its key."""
        cache = getattr(self, "_cache", None)
        directory = getattr(getattr(cache, "_plugin", None), "_cache_dir", None)
        if not directory or not os.path.isdir(directory):
            return
        keys = tuple(cache.keys())  # this plugin's own entries: the ones it read or wrote in this run
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            if keys and name.endswith(keys) and os.path.isfile(path):
                os.chmod(path, CACHE_FILE_MODE)

    # ------------------------------------------------------------- reading
    def templated(self, option):
        value = self.get_option(option)
        return self.templar.template(value) if value and "{{" in value else value

    def provider_access(self):
        """Templated (token, URL) of each enabled provider. A missing or empty token fails here, before any
        request, naming the option and the environment variable."""
        access, missing = {}, []
        for name, provider in PROVIDERS.items():
            if not self.get_option(provider["enabled"]):
                continue
            token = self.templated(provider["credential"])
            token = token.strip() if isinstance(token, str) else token
            if not token:
                missing.append("the %s credential is missing or empty: set the %s option or the %s environment "
                               "variable (or %s: false)"
                               % (provider["title"], provider["credential"], provider["env"], provider["enabled"]))
                continue
            access[name] = (token, (self.templated(provider["url"]) or "").rstrip("/"))
        if missing:
            raise AnsibleParserError("sophia.ops.fleet: %s; nothing was requested" % "; ".join(missing))
        return access

    def fleet_cache_key(self, path, access):
        """The file's own key, plus where each provider is read from: another endpoint or organisation is
        another fleet."""
        scope = {
            "fly": [access["fly"][1], self.get_option("fly_org_slug"), sorted(self.get_option("fly_apps") or [])]
            if "fly" in access else None,
            "lambda": [access["lambda"][1]] if "lambda" in access else None,
            "credentials": bool(self.get_option("include_credentials")),
        }
        digest = hashlib.sha256(json.dumps(scope, sort_keys=True).encode("utf-8")).hexdigest()[:16]
        return "%s_%s" % (self.get_cache_key(path), digest)

    def read_fleet(self, access):
        """Both providers side by side; returns (fleet, complete). One failing fails the inventory, or, with
        on_provider_error=keep_healthy and an outage, is left out with a warning."""
        readers = {"fly": self.read_fly, "lambda": self.read_lambda}
        fleet, failures = {"fly": {}, "lambda": []}, {}
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = dict((name, pool.submit(readers[name], *access[name])) for name in sorted(access))
            for name, future in futures.items():
                try:
                    fleet[name] = future.result()
                except Exception as exc:  # pylint: disable=broad-except  # weighed below, with the other's outcome
                    failures[name] = exc
        if not failures:
            return fleet, True
        causes = "; ".join("listing %s at %s failed: %s" % (PROVIDERS[name]["title"], access[name][1], exc)
                           for name, exc in sorted(failures.items()))
        keep_healthy = self.get_option("on_provider_error") == "keep_healthy"
        if keep_healthy and len(failures) < len(access) and all(is_outage(exc) for exc in failures.values()):
            healthy = ", ".join(PROVIDERS[name]["title"] for name in sorted(access) if name not in failures)
            display.warning("sophia.ops.fleet: %s. Its hosts are left out of this inventory; the %s hosts are listed "
                            "(on_provider_error=keep_healthy), and this listing is not cached." % (causes, healthy))
            return fleet, False
        if keep_healthy and not all(is_outage(exc) for exc in failures.values()):
            hint = " (refused credentials or a request the API rejects are configuration errors, which " \
                   "on_provider_error=keep_healthy does not pass over)"
        elif keep_healthy:
            hint = " (no provider could be listed)"
        elif len(failures) < len(access) and all(is_outage(exc) for exc in failures.values()):
            hint = " (on_provider_error: keep_healthy would list the other provider's hosts, with a warning)"
        else:
            hint = ""
        raise AnsibleParserError("sophia.ops.fleet: %s%s" % (causes, hint))

    def read_fly(self, token, api_url):
        """Machines by app, each trimmed to the fields the hostvars use (this is what the cache keeps)."""
        client = FlyClient(api_token=token, api_url=api_url)
        apps = self.get_option("fly_apps") or [a["name"] for a in client.list_apps(self.get_option("fly_org_slug"))]
        # The rate limits are per app, so apps are listed side by side, as flyctl does.
        with ThreadPoolExecutor(max_workers=LISTING_WORKERS) as pool:
            listed = dict(zip(apps, pool.map(client.list_machines, apps)))
        return dict((app, [fly_record(machine) for machine in machines]) for app, machines in listed.items())

    def read_lambda(self, key, api_url):
        credentials = self.get_option("include_credentials")
        return [lambda_record(instance, credentials)
                for instance in LambdaClient(api_key=key, api_url=api_url).list_instances()]

    # ---------------------------------------------------------- populating
    def wanted(self, region, state, labels):
        regions, states, tags = self.get_option("regions"), self.get_option("states"), self.get_option("tags")
        return ((not regions or region in regions) and (not states or state in states)
                and all(labels.get(k) == v for k, v in tags.items()))

    def populate(self, fleet):
        self.inventory.add_group("fly_machines")
        self.inventory.add_group("lambda_instances")
        # Plays can tell that the fleet is listed here (and so kept current by playbooks/gpu_nodes.yml), also in a
        # copy of this inventory such as AWX stores.
        self.inventory.set_variable("all", "sophia_fleet_inventory", True)
        # Tasks aimed at Fly machines run on the controller: its Python. A group variable of this source, so that
        # group_vars, host_vars and compose override it; ours, not API data, so trusted as a template.
        self.inventory.set_variable("fly_machines", "ansible_python_interpreter", trust_as_template(CONTROLLER_PYTHON))
        for app, machines in sorted(fleet["fly"].items()):
            for machine in machines:
                hostvars = fly_hostvars(app, machine)
                if self.wanted(hostvars["fly_region"], hostvars["fly_state"], hostvars["fly_metadata"]):
                    self.add("%s-%s" % (app, machine["id"]), "fly_machines", hostvars)
        credentials = self.get_option("include_credentials")
        for host, hostvars in lambda_hosts(fleet["lambda"], credentials):
            if self.wanted(hostvars["lambda_region"], hostvars["lambda_status"], hostvars["lambda_tags"]):
                self.add(host, "lambda_instances", hostvars)

    def add(self, host, group, hostvars):
        # API strings are data, never templates: a name like "{{ ... }}" must not run.
        hostvars = wrap_var(hostvars)
        self.inventory.add_host(host, group=group)
        for name, value in hostvars.items():
            self.inventory.set_variable(host, name, value)
        strict = self.get_option("strict")
        self._set_composite_vars(self.get_option("compose"), hostvars, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option("groups"), hostvars, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, host, strict=strict)
