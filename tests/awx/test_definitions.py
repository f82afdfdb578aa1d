"""The AWX objects of awx/, checked without a controller: every object of every environment against the argument
spec of the awx.awx module that applies it (so a misspelt option fails here, not in the controller), the
surveys against what AWX's API accepts, every reference between objects, the policy of the job templates
(execution environment, credentials by injection only, nothing asked at launch but a limit and verbosity), the
credential types' injectors, the workflow's order, the schedule and the notification, and the apply playbook's
refusal to start without its inputs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from jinja2 import StrictUndefined, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tests.support import awx
from tests.support.ansible_cli import REPO_ROOT, ansible_env
from tests.support.project import copy_project, project_files
from tests.support.secrets import Scanner, canary

PHASES = ["playbooks/prepare.yml", "playbooks/deploy.yml", "playbooks/advanced.yml", "playbooks/harden.yml"]
# The issue's list: the four phases, site.yml, drift check and fix, rollback, scale, rotation, GPU bootstrap, teardown.
OPERATIONS = {"site.yml", "playbooks/drift.yml", "playbooks/rollback.yml", "playbooks/scale.yml",
              "playbooks/rotate_secrets.yml", "playbooks/gpu_nodes.yml", "playbooks/teardown.yml"}
# Playbooks that reach the GPU pool's key pair or its nodes over SSH.
GPU_PLAYBOOKS = {"playbooks/advanced.yml", "site.yml", "playbooks/gpu_nodes.yml"}
CUSTOM_FIELD_KEYS = {"id", "label", "type", "secret", "multiline", "format", "help_text", "choices", "default",
                     "ask_at_runtime"}


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    """Every environment's objects, as awx/configure.yml renders them for the modules."""
    root = tmp_path_factory.mktemp("awx-plans")
    # Side by side: each is an ansible-playbook run of a few seconds.
    with ThreadPoolExecutor(max_workers=len(awx.ENVIRONMENTS)) as pool:
        rendered = pool.map(lambda env: awx.render_plan(env, root / ("%s.json" % env)), awx.ENVIRONMENTS)
        return dict(zip(awx.ENVIRONMENTS, rendered))


@pytest.fixture(scope="module")
def specs():
    return {module: awx.module_spec(module) for module in set(awx.MODULE_OF_KIND.values())}


def by_name(plan, kind):
    return {item["name"]: item for item in plan[kind]}


def node_spec():
    doc = awx.module_documentation("workflow_job_template")
    return awx.spec_of_suboptions(doc["options"]["workflow_nodes"]["suboptions"])


@pytest.mark.parametrize("environment", awx.ENVIRONMENTS)
def test_every_object_passes_the_argument_spec_of_the_module_that_applies_it(plans, specs, environment):
    plan = plans[environment]
    assert set(awx.MODULE_OF_KIND) <= set(plan), "kinds the plan lacks: %s" % (set(awx.MODULE_OF_KIND) - set(plan))
    problems = []
    for kind, module in awx.MODULE_OF_KIND.items():
        spec, kwargs = specs[module]
        assert plan[kind], "no %s in the %s plan" % (kind, environment)
        for item in plan[kind]:
            problems += ["%s %r: %s" % (module, item.get("name"), p) for p in awx.argument_problems(spec, kwargs, item)]
    # The workflow's nodes are a list of dicts to the module; their fields are its documented suboptions.
    nodes = node_spec()
    for workflow in plan["workflow_job_templates"]:
        for node in workflow["workflow_nodes"]:
            problems += ["node %r: %s" % (node.get("identifier"), p) for p in awx.argument_problems(nodes, {}, node)]
    assert not problems, "\n".join(problems)


def test_a_misspelt_option_a_wrong_type_and_a_bad_choice_fail_the_check(plans, specs):
    plan = plans["local"]
    spec, kwargs = specs["job_template"]
    [scale] = [t for t in plan["job_templates"] if t["name"].endswith(": scale")]
    assert awx.argument_problems(spec, kwargs, scale) == []
    typos = dict(scale, ask_limit_on_lanuch=True, verbosity=9, timeout="soon", job_type="deploy")
    problems = awx.argument_problems(spec, kwargs, typos)
    assert len(problems) == 4, problems
    assert any("ask_limit_on_lanuch" in p and "Supported parameters" in p for p in problems), problems
    assert any("verbosity must be one of" in p for p in problems), problems
    assert any("timeout" in p and "int" in p for p in problems), problems
    assert any("job_type must be one of" in p for p in problems), problems

    spec, kwargs = specs["credential_type"]
    [fly] = [t for t in plan["credential_types"] if t["name"] == "Sophia Fly.io API token"]
    assert awx.argument_problems(spec, kwargs, dict(fly, injector={"env": {}}))
    assert awx.argument_problems(spec, kwargs, dict(fly, kind="clouds"))

    node = dict(plan["workflow_job_templates"][0]["workflow_nodes"][0])
    assert any("sucess_nodes" in p for p in awx.argument_problems(node_spec(), {}, dict(node, related={"sucess_nodes": []})))


def test_the_specs_are_those_of_the_pinned_awx_collection(plans):
    import ansible_collections.awx.awx as collection

    manifest = json.loads((Path(list(collection.__path__)[0]) / "MANIFEST.json").read_text())
    version = manifest["collection_info"]["version"]
    assert plans["prod"]["awx_collection_version"] == version
    requirements = yaml.safe_load((REPO_ROOT / "collections" / "requirements.yml").read_text())
    pinned = [c.get("version") for c in requirements["collections"] if c.get("name") == "awx.awx"]
    assert pinned == [version], "collections/requirements.yml pins awx.awx %s; the specs checked are %s" % (pinned, version)


def test_the_apply_playbook_passes_every_field_the_definitions_give(plans):
    [play] = yaml.safe_load((awx.AWX_DIR / "configure.yml").read_text())
    passed = {}
    for task in play["tasks"]:
        module = next((key for key in task if key.startswith("awx.awx.")), None)
        if module and module != "awx.awx.controller_meta":
            passed[module.split(".")[-1]] = task
    assert set(passed) == set(awx.MODULE_OF_KIND.values())
    problems = []
    for environment, plan in plans.items():
        for kind, module in awx.MODULE_OF_KIND.items():
            args = passed[module][("awx.awx." + module)]
            for item in plan[kind]:
                for field in item:
                    if field not in args or not re.search(r"\bitem\.%s\b" % field, str(args[field])):
                        problems.append("%s: %s %r field %r is not passed as item.%s"
                                        % (environment, module, item["name"], field, field))
    assert not problems, "\n".join(sorted(set(problems)))
    # The tasks that carry secrets show nothing of them, not even the item on failure.
    assert passed["credential"].get("no_log") is True
    assert passed["notification_template"].get("no_log") is True
    assert play["module_defaults"]["group/awx.awx.controller"]["controller_host"].startswith("{{ awx_controller_host")


@pytest.mark.parametrize("environment", awx.ENVIRONMENTS)
def test_surveys_are_accepted_by_awx_and_ask_only_what_the_playbooks_use(plans, environment):
    problems = []
    for template in plans[environment]["job_templates"]:
        playbook = REPO_ROOT / template["playbook"]
        # What the playbook uses, not what its comments mention.
        code = "\n".join(line for line in playbook.read_text().splitlines() if not line.lstrip().startswith("#"))
        variables = list(template.get("extra_vars") or {})
        if template.get("survey_enabled"):
            problems += ["%s: %s" % (template["name"], p) for p in awx.survey_spec_problems(template["survey_spec"])]
            variables += [q["variable"] for q in template["survey_spec"]["spec"]]
        else:
            assert not template.get("survey_spec"), "%s: a survey that is not enabled" % template["name"]
        problems += ["%s: %s is not used by %s" % (template["name"], v, template["playbook"])
                     for v in variables if not re.search(r"\b%s\b" % re.escape(v), code)]
    assert not problems, "\n".join(problems)
    surveyed = {t["playbook"]: {q["variable"] for q in t["survey_spec"]["spec"]}
                for t in plans[environment]["job_templates"] if t.get("survey_enabled")}
    # Where an operator must choose: the service, the count, the confirmation and the volumes.
    assert surveyed == {"playbooks/rollback.yml": {"service"}, "playbooks/scale.yml": {"service", "count"},
                        "playbooks/rotate_secrets.yml": {"service"},
                        "playbooks/teardown.yml": {"teardown_confirm", "teardown_volumes", "service"}}


def test_a_broken_survey_is_refused_as_awx_refuses_it():
    question = {"question_name": "Machines", "variable": "count", "type": "integer", "required": True, "min": 1,
                "max": 4, "default": 2}
    assert awx.survey_spec_problems({"name": "Scale", "description": "", "spec": [question]}) == []
    broken = [
        ({"description": "", "spec": [question]}, "'name' missing"),
        ({"name": "Scale", "description": "", "spec": []}, "no question"),
        ({"name": "Scale", "description": "", "spec": [dict(question, type="number")]}, "is not one of"),
        ({"name": "Scale", "description": "", "spec": [dict(question, default="2")]}, "is not a integer"),
        ({"name": "Scale", "description": "", "spec": [dict(question, max="4")]}, "max '4' is not an integer"),
        ({"name": "Scale", "description": "", "spec": [dict(question, default=9)]}, "above the maximum"),
        ({"name": "Scale", "description": "", "spec": [question, question]}, "asked twice"),
        ({"name": "Svc", "description": "", "spec": [{"question_name": "S", "variable": "service", "required": True,
                                                      "type": "multiplechoice", "choices": ["a", "b"],
                                                      "default": "c"}]}, "not one of the choices"),
        ({"name": "Svc", "description": "", "spec": [{"question_name": "S", "variable": "service", "required": True,
                                                      "type": "multiplechoice"}]}, "needs choices"),
    ]
    for survey, expected in broken:
        problems = awx.survey_spec_problems(survey)
        assert any(expected in p for p in problems), (survey, problems)


@pytest.mark.parametrize("environment", awx.ENVIRONMENTS)
def test_every_reference_between_objects_resolves(plans, environment):
    plan = plans[environment]
    names = {kind: set(by_name(plan, kind)) for kind in awx.MODULE_OF_KIND}
    types = by_name(plan, "credential_types")
    credentials = by_name(plan, "credentials")
    problems = []

    def need(kind, name, where):
        if name not in names[kind]:
            problems.append("%s refers to %s %r, which is not defined" % (where, kind, name))

    for project in plan["projects"]:
        need("execution_environments", project["default_environment"], project["name"])
    for credential in plan["credentials"]:
        if credential["credential_type"] == "Vault":
            fields, required = {"vault_password", "vault_id"}, {"vault_password"}
        else:
            need("credential_types", credential["credential_type"], credential["name"])
            inputs = types.get(credential["credential_type"], {}).get("inputs", {})
            fields, required = {f["id"] for f in inputs.get("fields", [])}, set(inputs.get("required", []))
        if set(credential["inputs"]) - fields or required - set(credential["inputs"]):
            problems.append("%s: inputs %s, its type has %s (required %s)" % (
                credential["name"], sorted(credential["inputs"]), sorted(fields), sorted(required)))
    for source in plan["inventory_sources"]:
        need("inventories", source["inventory"], source["name"])
        need("projects", source["source_project"], source["name"])
        need("credentials", source["credential"], source["name"])
        need("execution_environments", source["execution_environment"], source["name"])
        if not (REPO_ROOT / source["source_path"]).is_dir():
            problems.append("%s: source_path %s is not a directory of the project" % (source["name"], source["source_path"]))
    for template in plan["job_templates"]:
        where = template["name"]
        if not (REPO_ROOT / template["playbook"]).is_file():
            problems.append("%s: playbook %s is not in the project" % (where, template["playbook"]))
        need("inventories", template["inventory"], where)
        need("projects", template["project"], where)
        need("execution_environments", template["execution_environment"], where)
        for name in template["credentials"]:
            need("credentials", name, where)
        # AWX takes one credential of a type per template (vaults: one per vault id).
        kinds = [(credentials[n]["credential_type"], credentials[n]["inputs"].get("vault_id"))
                 for n in template["credentials"] if n in credentials]
        if len(kinds) != len(set(kinds)):
            problems.append("%s: two credentials of one type: %s" % (where, kinds))
        for name in template.get("notification_templates_error", []):
            need("notification_templates", name, where)
    for workflow in plan["workflow_job_templates"]:
        identifiers = [node["identifier"] for node in workflow["workflow_nodes"]]
        if len(identifiers) != len(set(identifiers)):
            problems.append("%s: an identifier used twice" % workflow["name"])
        for node in workflow["workflow_nodes"]:
            if node["unified_job_template"]["type"] != "job_template":
                problems.append("%s: node %s is a %s" % (workflow["name"], node["identifier"], node["unified_job_template"]["type"]))
            need("job_templates", node["unified_job_template"]["name"], "%s node %s" % (workflow["name"], node["identifier"]))
            for kind, children in (node.get("related") or {}).items():
                problems += ["%s node %s: %s to unknown node %s" % (workflow["name"], node["identifier"], kind, c["identifier"])
                             for c in children if c["identifier"] not in identifiers]
    for schedule in plan["schedules"]:
        need("job_templates", schedule["unified_job_template"], schedule["name"])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("environment", awx.ENVIRONMENTS)
def test_job_templates_run_in_the_ee_with_injected_credentials_and_ask_only_a_limit_and_verbosity(plans, environment):
    plan = plans[environment]
    [ee] = plan["execution_environments"]
    credentials = by_name(plan, "credentials")
    templates = plan["job_templates"]
    playbooks = {t["playbook"] for t in templates}
    assert set(PHASES) | OPERATIONS <= playbooks
    assert sorted(t["playbook"] for t in templates if t["playbook"] == "playbooks/drift.yml") == ["playbooks/drift.yml"] * 2
    for template in templates:
        where = template["name"]
        assert template["name"].startswith("sophia-ops %s: " % environment), where
        assert template["execution_environment"] == ee["name"], where
        assert template["job_type"] == "run", where
        # Credentials, inventory, environment and variables are the template's, never a launch's.
        for field in ("ask_credential_on_launch", "ask_inventory_on_launch", "ask_execution_environment_on_launch",
                      "ask_variables_on_launch", "ask_job_type_on_launch"):
            assert template[field] is False, (where, field)
        assert template["ask_verbosity_on_launch"] is True and template["verbosity"] == 0, where
        assert template["ask_limit_on_launch"] is (template["playbook"] != "playbooks/teardown.yml"), where
        assert template["become_enabled"] is False, where
        assert template["use_fact_cache"] is False, where
        assert template["allow_simultaneous"] is False, where
        types = sorted(credentials[name]["credential_type"] for name in template["credentials"])
        wanted = ["Sophia Fly.io API token", "Sophia Lambda Cloud API key", "Vault"]
        if template["playbook"] in GPU_PLAYBOOKS:
            wanted = sorted(wanted + ["Sophia GPU pool SSH key"])
        assert types == wanted, (where, types)
        # The only extra var a template sets is the drift fix's switch: nothing secret travels as a variable.
        assert set(template.get("extra_vars") or {}) <= {"drift_fix"}, where
    [fix] = [t for t in templates if t["name"].endswith(": drift fix")]
    assert fix["extra_vars"] == {"drift_fix": True}


def test_credential_types_inject_secrets_as_environment_variables_awx_allows(plans, tmp_path):
    types = by_name(plans["prod"], "credential_types")
    assert set(types) == {"Sophia Fly.io API token", "Sophia Lambda Cloud API key", "Sophia fleet inventory",
                          "Sophia GPU pool SSH key"}
    sandbox = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for name, credential_type in types.items():
        assert credential_type["kind"] in ("cloud", "net"), name  # what AWX allows a custom type
        fields = credential_type["inputs"]["fields"]
        ids = [f["id"] for f in fields]
        assert len(ids) == len(set(ids)), name
        for field in fields:
            assert re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", field["id"]) and field.get("label"), (name, field)
            assert set(field) <= CUSTOM_FIELD_KEYS and field.get("type", "string") in ("string", "boolean"), (name, field)
            assert field.get("format") in (None, "ssh_private_key", "url"), (name, field)
        assert set(credential_type["inputs"].get("required", [])) <= set(ids), name
        injectors = credential_type["injectors"]
        assert set(injectors) <= {"env", "file", "extra_vars"}, name
        secret = {f["id"] for f in fields if f.get("secret")}
        for kind, templates in injectors.items():
            for key, template in templates.items():
                if kind == "env":
                    assert awx.env_name_problem(key) is None, (name, key)
                # Every name a template uses is a field of the type (or the file's path).
                used = meta.find_undeclared_variables(sandbox.parse(template))
                assert used <= set(ids) | {"tower"}, (name, key, used)
                # A secret never goes to an extra var, which -vvvv prints.
                if kind == "extra_vars":
                    assert not used & secret, (name, key, used & secret)
        # Rendered as AWX renders them, with every field given.
        (tmp_path / name / "env").mkdir(parents=True)
        values = {f["id"]: "value-of-%s" % f["id"] for f in fields}
        env, args = awx.inject(credential_type, values, tmp_path / name, undefined=StrictUndefined)
        for variable, value in env.items():
            assert value.startswith("value-of-") or value == "", (name, variable, value)
    env, dummy = awx.inject(types["Sophia Fly.io API token"], {"fly_api_token": "t0k"}, tmp_path / "Sophia Fly.io API token")
    assert env == {"FLY_API_TOKEN": "t0k"}
    env, dummy = awx.inject(types["Sophia Lambda Cloud API key"], {"lambda_api_key": "k3y"}, tmp_path / "Sophia Lambda Cloud API key")
    assert env == {"LAMBDA_API_KEY": "k3y", "LAMBDA_SSH_ALLOWED_CIDRS": ""}
    # The GPU pool's key: a file of the job's (ended with a newline, as OpenSSH wants it), its path an extra var.
    key_dir = tmp_path / "key"
    (key_dir / "env").mkdir(parents=True)
    env, args = awx.inject(types["Sophia GPU pool SSH key"], {"ssh_private_key": "-----BEGIN KEY-----\nabc\n-----END KEY-----"},
                           key_dir)
    assert env == {} and args[0] == "-e"
    extra = yaml.load(open(args[1][1:]).read().replace("!unsafe", ""), Loader=yaml.SafeLoader)
    key_file = extra["lambda_fleet_ssh_key_path"]
    assert open(key_file).read() == "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"
    assert os.stat(key_file).st_mode & 0o777 == 0o600


def test_the_workflow_runs_the_four_phases_in_order_then_the_drift_check_and_stops_at_a_failure(plans):
    plan = plans["prod"]
    [workflow] = plan["workflow_job_templates"]
    playbook_of = {t["name"]: t["playbook"] for t in plan["job_templates"]}
    for node in workflow["workflow_nodes"]:
        related = node.get("related") or {}
        assert not related.get("failure_nodes") and not related.get("always_nodes"), node["identifier"]
    jobs = awx.AwxJobs.__new__(awx.AwxJobs)
    jobs.plan = plan

    class Ran:
        def __init__(self, template, status):
            self.template, self.status = template, status

    def launch_failing_at(failing):
        def launch(template):
            return Ran(template, "failed" if template["playbook"] == failing else "successful")
        return launch

    ran = jobs.workflow(workflow["name"], launch_failing_at(None))
    assert [job.template["playbook"] for job in ran] == PHASES + ["playbooks/drift.yml"]
    assert playbook_of[ran[-1].template["name"]] == "playbooks/drift.yml" and ran[-1].template["name"].endswith(": drift check")
    for index, phase in enumerate(PHASES):
        ran = jobs.workflow(workflow["name"], launch_failing_at(phase))
        assert [job.template["playbook"] for job in ran] == PHASES[:index + 1], phase


@pytest.mark.parametrize("environment", awx.ENVIRONMENTS)
def test_the_drift_check_runs_on_a_schedule_and_notifies_on_drift(plans, environment):
    plan = plans[environment]
    [schedule] = plan["schedules"]
    [check] = [t for t in plan["job_templates"] if t["name"] == schedule["unified_job_template"]]
    assert check["playbook"] == "playbooks/drift.yml" and not check.get("extra_vars")
    assert re.match(r"^DTSTART(;TZID=[A-Za-z/_]+)?:\d{8}T\d{6}Z? RRULE:FREQ=(HOURLY|DAILY|WEEKLY)(;[A-Z]+=[A-Z0-9,]+)*$",
                    schedule["rrule"]), schedule["rrule"]
    assert schedule["enabled"] is (environment != "local")
    [notification] = plan["notification_templates"]
    assert check["notification_templates_error"] == [notification["name"]]
    assert notification["notification_type"] == "webhook"
    # AWX renders the body with the job's context; it must then be JSON.
    body = ImmutableSandboxedEnvironment(undefined=StrictUndefined).from_string(notification["messages"]["error"]["body"]).render(
        job={"name": check["name"], "id": 42}, url="https://awx.example/#/jobs/playbook/42")
    assert "drift" in json.loads(body)["text"] and "/jobs/playbook/42" in body


def test_surveys_follow_each_environments_inventory(plans):
    hosts = yaml.safe_load((REPO_ROOT / "inventories" / "local" / "hosts.yml").read_text())
    services = [h for layer, group in hosts["platform"]["children"].items() if layer != "observability"
                for h in group["hosts"]]
    for environment, plan in plans.items():
        ranges = yaml.safe_load((REPO_ROOT / "inventories" / environment / "group_vars" / "all" / "services.yml").read_text())
        [scale] = [t for t in plan["job_templates"] if t["name"].endswith(": scale")]
        questions = {q["variable"]: q for q in scale["survey_spec"]["spec"]}
        assert sorted(questions["service"]["choices"]) == sorted(services), environment
        assert questions["count"]["min"] == min(v for k, v in ranges.items() if k.endswith("_min_machines"))
        assert questions["count"]["max"] == max(v for k, v in ranges.items() if k.endswith("_max_machines"))
        assert questions["count"]["default"] == ranges["unified_api_max_machines"]
        [teardown] = [t for t in plan["job_templates"] if t["name"].endswith(": teardown")]
        [confirm] = [q for q in teardown["survey_spec"]["spec"] if q["variable"] == "teardown_confirm"]
        assert confirm["required"] and "default" not in confirm and environment in confirm["question_description"]


def test_launches_are_checked_against_the_survey_as_awx_checks_them(plans):
    plan = plans["local"]
    template = {t["name"].split(": ")[1]: t for t in plan["job_templates"]}
    assert awx.launch_extra_vars(template["scale"]) == {"service": "unified_api", "count": 4}
    assert awx.launch_extra_vars(template["scale"], {"count": 3}) == {"service": "unified_api", "count": 3}
    for answers, why in (({"count": 99}, "above the maximum"), ({"count": "3"}, "not an integer"),
                         ({"service": "monitoring"}, "not one of"), ({"sophia_budget_override": True}, "not allowed")):
        with pytest.raises(ValueError, match=why):
            awx.launch_extra_vars(template["scale"], answers)
    # Nothing chosen: every service (the variable is left out, not empty).
    assert awx.launch_extra_vars(template["rollback"]) == {}
    with pytest.raises(ValueError, match="teardown_confirm: an answer is required"):
        awx.launch_extra_vars(template["teardown"])
    assert awx.launch_extra_vars(template["teardown"], {"teardown_confirm": "local"}) == {
        "teardown_confirm": "local", "teardown_volumes": "false"}
    assert awx.launch_extra_vars(template["drift fix"]) == {"drift_fix": True}
    with pytest.raises(ValueError, match="not allowed"):
        awx.launch_extra_vars(template["site"], {"drift_fix": True})


def test_environments_share_the_definitions_and_keep_their_objects_apart(plans):
    shared = {"credential_types", "execution_environments", "projects"}
    for kind in awx.MODULE_OF_KIND:
        names = {env: {item["name"] for item in plan[kind]} for env, plan in plans.items()}
        if kind in shared:
            assert len({frozenset(n) for n in names.values()}) == 1, kind
            continue
        for env, own in names.items():
            assert all(("sophia-ops %s" % env) in name for name in own), (kind, own)
            for other, theirs in names.items():
                assert env == other or not own & theirs, (kind, env, other)
    for env, plan in plans.items():
        [vault] = [c for c in plan["credentials"] if c["credential_type"] == "Vault"]
        assert vault["inputs"]["vault_id"] == env
        [source] = plan["inventory_sources"]
        assert source["source_path"] == "inventories/%s" % env


def test_the_plan_holds_no_secret_and_applying_needs_a_controller(tmp_path):
    canaries = {"Fly API token": canary("fly-token"), "Lambda API key": canary("lambda-key"),
                "vault password": canary("vault-password"), "webhook URL": "https://hooks.example/" + canary("hook"),
                "SSH private key": canary("ssh-key")}
    key_file = tmp_path / "gpu-key"
    key_file.write_text(canaries["SSH private key"])
    secret_env = {"FLY_API_TOKEN": canaries["Fly API token"], "LAMBDA_API_KEY": canaries["Lambda API key"],
                  "SOPHIA_VAULT_PASSWORD_STAGING": canaries["vault password"],
                  "SOPHIA_AWX_DRIFT_WEBHOOK_URL": canaries["webhook URL"], "SOPHIA_AWX_GPU_SSH_KEY_FILE": str(key_file)}
    plan_file = tmp_path / "plan.json"
    plan = awx.render_plan("staging", plan_file, env=secret_env)
    assert oct(plan_file.stat().st_mode & 0o777) == "0o600"
    scan = Scanner(canaries)
    scan.text(str(plan_file), plan_file.read_bytes())
    assert not scan.found, scan.found
    assert {c["inputs"].get("fly_api_token") for c in plan["credentials"]} >= {"$encrypted$"}

    # Applying, with the secrets given but no controller: refused before any request, naming what is missing.
    env = ansible_env(dict(secret_env, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default"))
    for name in [k for k in env if k.startswith(("CONTROLLER_", "TOWER_", "SOPHIA_AWX_")) and k not in secret_env]:
        del env[name]
    done = subprocess.run([str(os.path.join(os.path.dirname(sys.executable), "ansible-playbook")),
                           str(awx.AWX_DIR / "configure.yml"), "-i", "localhost,", "-e", "awx_environment=staging"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0
    assert "Everything the controller needs is given" in done.stdout
    assert "Set CONTROLLER_HOST and CONTROLLER_OAUTH_TOKEN" in done.stdout and "Nothing was changed" in done.stdout
    assert "Credential types" not in done.stdout
    scan = Scanner(canaries)
    scan.text("apply output", done.stdout + done.stderr)
    assert not scan.found, scan.found

    done = subprocess.run([str(os.path.join(os.path.dirname(sys.executable), "ansible-playbook")),
                           str(awx.AWX_DIR / "configure.yml"), "-i", "localhost,", "-e", "awx_environment=qa"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0 and "awx_environment=qa: not in awx/settings.yml" in done.stdout


def test_a_job_can_read_the_inventory_awx_writes_for_it(tmp_path):
    """AWX gives a job its inventory as an executable script, inventory/hosts, that prints the inventory as JSON;
    ansible-playbook reads it with the project's ansible.cfg, whose enabled inventory plugins must include the one
    that runs scripts."""
    inventory = {"all": {"children": ["platform"]}, "platform": {"hosts": ["weaviate"]},
                 "_meta": {"hostvars": {"weaviate": {"ansible_connection": "local"}}}}
    script = awx.write_inventory_script(tmp_path / "inventory" / "hosts", inventory)
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i", str(script), "--list"],
                          cwd=REPO_ROOT, env=ansible_env(), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["platform"]["hosts"] == ["weaviate"]


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory):
    """The project as AWX's project sync has it (a clean copy, the tests left out)."""
    return copy_project(tmp_path_factory.mktemp("awx-project") / "project", REPO_ROOT,
                        project_files(REPO_ROOT, left_out=awx.PROJECT_LEFT_OUT))


def sync_hosts_and_group_vars(project, environment):
    """What an inventory sync reads of inventories/<environment> but the fleet: its hosts and group_vars, with the
    project's ansible.cfg, no vault password but the local one ansible.cfg gives, and nothing of this process's
    settings."""
    env = {k: v for k, v in ansible_env().items() if not k.startswith(("ANSIBLE_", "SOPHIA_"))}
    source = project / "inventories" / environment
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-inventory"), "-i",
                           str(source / "hosts.yml"), "--list", "--export", "--playbook-dir", str(source)],
                          cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("environment", awx.ENVIRONMENTS)
def test_an_inventory_sync_opens_no_vault_and_stores_no_secret(project_copy, environment):
    """AWX syncs an inventory source with no vault password and keeps what it read. Every environment's vault,
    here holding canaries under a password nothing gives, lives outside its inventory (vaults/<env>.yml): the sync
    succeeds and stores none of it. The same file among the inventory's group_vars fails the sync, as it would in
    AWX."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    values = {"vault_sophia_secrets": {"JWT_SECRET": canary("jwt")}, "vault_postgres_password": canary("postgres")}
    encrypted = VaultLib().encrypt(yaml.safe_dump(values), secret=VaultSecret(canary("password").encode()),
                                   vault_id=environment)
    (project_copy / "vaults" / ("%s.yml" % environment)).write_bytes(encrypted)
    done = sync_hosts_and_group_vars(project_copy, environment)
    assert done.returncode == 0, done.stderr[-3000:]
    stored = json.loads(done.stdout)
    assert stored["all"]["children"] and not [name for name in awx.keys_of(stored) if name.startswith("vault_")]
    scan = Scanner({"secret": canary("jwt"), "password": canary("postgres")})
    scan.text("what the sync stored", done.stdout + done.stderr)
    assert not scan.found, scan.found

    misplaced = project_copy / "inventories" / environment / "group_vars" / "all" / "vault.yml"
    misplaced.write_bytes(encrypted)
    try:
        refused = sync_hosts_and_group_vars(project_copy, environment)
    finally:
        misplaced.unlink()
    assert refused.returncode != 0 and "vault" in refused.stderr.lower(), refused.stderr[-2000:]
