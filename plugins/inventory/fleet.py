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
  - Lambda instances get C(ansible_host) (their public IP) and C(ansible_user=ubuntu), ready for SSH.
  - Hosts are in the groups C(fly_machines) and C(lambda_instances); C(compose), C(groups) and C(keyed_groups) add
    more. Hostvars carry a C(fly_) or C(lambda_) prefix.
  - The configuration file must be named C(fleet.yml) or C(fleet.yaml).
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
    description: List Fly.io machines.
    type: bool
    default: true
  fly_api_token:
    description:
      - Fly.io API token. May be a template (for example a vaulted variable or an environment lookup).
    type: str
    env:
      - name: FLY_API_TOKEN
  fly_api_url:
    description: Machines API base URL. May be a template.
    type: str
    default: https://api.machines.dev/v1
    env:
      - name: FLY_API_URL
  fly_org_slug:
    description: Organization whose apps are listed when O(fly_apps) is empty.
    type: str
    default: personal
  fly_apps:
    description: Only these apps.
    type: list
    elements: str
    default: []
  lambda_enabled:
    description: List Lambda Cloud instances.
    type: bool
    default: true
  lambda_api_key:
    description:
      - Lambda Cloud API key. May be a template.
    type: str
    env:
      - name: LAMBDA_API_KEY
  lambda_api_url:
    description: Lambda Cloud API base URL. May be a template.
    type: str
    default: https://cloud.lambda.ai/api/v1
    env:
      - name: LAMBDA_API_URL
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
"""

from concurrent.futures import ThreadPoolExecutor

from ansible.errors import AnsibleError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.sophia.ops.plugins.module_utils.api_client import APIError
from ansible_collections.sophia.ops.plugins.module_utils.fly_api import CREATE_MARKER_KEY, FlyClient
from ansible_collections.sophia.ops.plugins.module_utils.lambda_api import GONE, POOL_TAG, LambdaClient

# Apps whose machines are listed at the same time (flyctl works on eight things at a time).
LISTING_WORKERS = 8


def fly_hostvars(app, machine):
    config = machine.get("config") or {}
    metadata = dict((k, v) for k, v in (config.get("metadata") or {}).items() if k != CREATE_MARKER_KEY)
    return {
        "ansible_connection": "local",
        "fly_app": app,
        "fly_service": metadata.get("sophia_service") or app,
        "fly_machine_id": machine.get("id"),
        "fly_machine_name": machine.get("name"),
        "fly_region": machine.get("region"),
        "fly_process_group": metadata.get("fly_process_group"),
        "fly_state": machine.get("state"),
        "fly_image": config.get("image"),
        "fly_instance_id": machine.get("instance_id"),
        "fly_private_ip": machine.get("private_ip"),
        "fly_metadata": metadata,
    }


def lambda_hostvars(instance):
    tags = dict((t.get("key"), t.get("value")) for t in instance.get("tags") or [])
    hostvars = {
        "ansible_user": "ubuntu",
        "lambda_id": instance.get("id"),
        "lambda_name": instance.get("name"),
        "lambda_status": instance.get("status"),
        "lambda_ip": instance.get("ip"),
        "lambda_private_ip": instance.get("private_ip"),
        "lambda_hostname": instance.get("hostname"),
        "lambda_region": (instance.get("region") or {}).get("name"),
        "lambda_instance_type": (instance.get("instance_type") or {}).get("name"),
        "lambda_pool": tags.get(POOL_TAG),
        "lambda_tags": tags,
    }
    if instance.get("ip"):
        hostvars["ansible_host"] = instance["ip"]
    return hostvars


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "sophia.ops.fleet"

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("fleet.yml", "fleet.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        fleet = None
        if use_cache:
            try:
                fleet = self._cache[cache_key]
            except KeyError:
                fleet = None
        if fleet is None:
            # Templated here, in the main thread; the providers are then read side by side.
            fly_access = (self.templated("fly_api_token"), self.templated("fly_api_url"))
            lambda_access = (self.templated("lambda_api_key"), self.templated("lambda_api_url"))
            with ThreadPoolExecutor(max_workers=2) as pool:
                fly, instances = pool.submit(self.read_fly, *fly_access), pool.submit(self.read_lambda, *lambda_access)
                fleet = {"fly": fly.result(), "lambda": instances.result()}
            if self.get_option("cache"):
                self._cache[cache_key] = fleet
        self.populate(fleet)

    # ------------------------------------------------------------- reading
    def templated(self, option):
        value = self.get_option(option)
        return self.templar.template(value) if value and "{{" in value else value

    def read_fly(self, token, api_url):
        """Raw machines by app, as the API gave them (this is what the cache keeps)."""
        if not self.get_option("fly_enabled"):
            return {}
        if not token:
            raise AnsibleError("sophia.ops.fleet: fly_api_token (or FLY_API_TOKEN) is required to list Fly machines")
        client = FlyClient(api_token=token, api_url=api_url)
        try:
            apps = self.get_option("fly_apps") or [a["name"] for a in client.list_apps(self.get_option("fly_org_slug"))]
            # The rate limits are per app, so apps are listed side by side, as flyctl does.
            with ThreadPoolExecutor(max_workers=LISTING_WORKERS) as pool:
                return dict(zip(apps, pool.map(client.list_machines, apps)))
        except APIError as exc:
            raise AnsibleError("sophia.ops.fleet: listing Fly machines failed: %s" % exc)

    def read_lambda(self, key, api_url):
        if not self.get_option("lambda_enabled"):
            return []
        if not key:
            raise AnsibleError("sophia.ops.fleet: lambda_api_key (or LAMBDA_API_KEY) is required to list instances")
        try:
            return LambdaClient(api_key=key, api_url=api_url).list_instances()
        except APIError as exc:
            raise AnsibleError("sophia.ops.fleet: listing Lambda instances failed: %s" % exc)

    # ---------------------------------------------------------- populating
    def wanted(self, region, state, labels):
        regions, states, tags = self.get_option("regions"), self.get_option("states"), self.get_option("tags")
        return ((not regions or region in regions) and (not states or state in states)
                and all(labels.get(k) == v for k, v in tags.items()))

    def populate(self, fleet):
        self.inventory.add_group("fly_machines")
        self.inventory.add_group("lambda_instances")
        for app, machines in sorted(fleet["fly"].items()):
            for machine in machines:
                hostvars = fly_hostvars(app, machine)
                if self.wanted(hostvars["fly_region"], hostvars["fly_state"], hostvars["fly_metadata"]):
                    self.add("%s-%s" % (app, machine["id"]), "fly_machines", hostvars)
        for instance in fleet["lambda"]:
            hostvars = lambda_hostvars(instance)
            if instance.get("status") not in GONE and self.wanted(
                    hostvars["lambda_region"], hostvars["lambda_status"], hostvars["lambda_tags"]):
                self.add(instance.get("name") or instance["id"], "lambda_instances", hostvars)

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
