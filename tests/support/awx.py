"""AWX without a controller: the AWX objects of awx/ as the controller would receive them, and their job templates
run the way AWX runs a job.

* ``render_plan`` runs ``awx/configure.yml`` in its plan mode: the objects of one environment, rendered as the
  apply tasks would pass them to the ``awx.awx`` modules, secrets replaced by ``$encrypted$``.
* ``module_spec`` reads the real argument spec of an ``awx.awx`` module: its ``main()`` is run with the module's
  base class replaced by a recorder that keeps what ``main()`` passes it and stops there, and the controller
  connection options every module gets (``ControllerModule.AUTH_ARGSPEC``) are added, as the base class does.
* ``survey_spec_problems`` and ``launch_extra_vars`` hold a survey to what AWX's API accepts, and give a job the
  extra vars AWX would (template extra vars, then survey defaults that validate, then the answers).
* ``inject`` renders a credential type's injectors as AWX does (a sandboxed Jinja environment; files written in
  the job's ``env/``; extra vars through a file given with ``-e @``), and ``AwxJobs`` builds a job's private data
  directory (``project/`` a clean copy of the project, ``inventory/hosts`` the script printing what the inventory
  source's sync stored, ``env/extravars``, ``env/cmdline``, ``env/settings``) and starts it with ``ansible_runner.run`` with AWX's
  parameters: environment variables and the vault password's prompt answer passed in memory
  (``suppress_env_files``), the fact cache only for a template that uses it.

What AWX itself does here was read in its source (awx/main/tasks/jobs.py: ``RunJob``, ``RunInventoryUpdate``;
awx/main/models: ``CredentialType.inject_credential``, ``SurveyJobTemplateMixin``; awx/api/views: the survey
spec's validation); this module is our restatement of it, kept to what the tests need.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import yaml

from tests.support.ansible_cli import REPO_ROOT, ansible_env
from tests.support.project import copy_project, project_files

AWX_DIR = REPO_ROOT / "awx"
ENVIRONMENTS = ("prod", "staging", "dev", "local")
# Which awx.awx module applies each kind of object in a plan.
MODULE_OF_KIND = {
    "credential_types": "credential_type", "credentials": "credential",
    "execution_environments": "execution_environment", "projects": "project", "inventories": "inventory",
    "inventory_sources": "inventory_source", "notification_templates": "notification_template",
    "job_templates": "job_template", "workflow_job_templates": "workflow_job_template", "schedules": "schedule",
}
# What a job never needs from the project: the tests and their stand-ins, the local stack's images.
PROJECT_LEFT_OUT = ("emulators/", "tests/", "molecule/", "bench/", "images/")


# --- the plan ----------------------------------------------------------------------------------------------
def render_plan(environment, path, extra_vars=None, env=None):
    """The objects of one environment as awx/configure.yml renders them (no controller contacted)."""
    cmd = [str(Path(sys.executable).parent / "ansible-playbook"), str(AWX_DIR / "configure.yml"), "-i", "localhost,",
           "-e", json.dumps(dict(extra_vars or {}, awx_environment=environment, awx_plan_file=str(path)))]
    done = subprocess.run(cmd, cwd=REPO_ROOT, env=ansible_env(dict(env or {}, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")),
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode:
        raise AssertionError("awx/configure.yml (plan) failed, rc=%s:\n%s\n%s" % (done.returncode, done.stdout[-4000:],
                                                                                  done.stderr[-2000:]))
    return json.loads(Path(path).read_text())


# --- the awx.awx modules' argument specs --------------------------------------------------------------------
class _Built(Exception):
    pass


def module_spec(module_name):
    """(argument_spec, other AnsibleModule keyword arguments) of ``awx.awx.<module_name>``, as its main() builds them."""
    from ansible.module_utils import basic
    from ansible_collections.awx.awx.plugins.module_utils.controller_api import ControllerModule

    module = importlib.import_module("ansible_collections.awx.awx.plugins.modules." + module_name)
    built = {}

    def recorder(argument_spec=None, **kwargs):
        built.update(kwargs, argument_spec=argument_spec)
        raise _Built()

    # Should main() reach a real AnsibleModule after all, it reads these arguments, not the test's stdin.
    with mock.patch.object(module, "ControllerAPIModule", recorder), \
            mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": {}}).encode()):
        try:
            module.main()
        except _Built:
            pass
        except SystemExit as exc:
            raise AssertionError("awx.awx.%s main() exited (%s) before building its module" % (module_name, exc))
    if "argument_spec" not in built:
        raise AssertionError("awx.awx.%s main() never built its module" % module_name)
    spec = dict(built.pop("argument_spec"))
    spec.update(ControllerModule.AUTH_ARGSPEC)
    return spec, built


def module_documentation(module_name):
    module = importlib.import_module("ansible_collections.awx.awx.plugins.modules." + module_name)
    return yaml.safe_load(module.DOCUMENTATION)


def spec_of_suboptions(suboptions):
    """An argument spec from documented suboptions (type, elements, choices, required, nested suboptions)."""
    spec = {}
    for name, doc in suboptions.items():
        entry = {key: doc[key] for key in ("type", "elements", "choices", "required", "aliases") if key in doc}
        if "suboptions" in doc:
            entry["options"] = spec_of_suboptions(doc["suboptions"])
        spec[name] = entry
    return spec


def argument_problems(spec, kwargs, params):
    """What AnsibleModule's own argument validation says of ``params``: unknown names, wrong types, bad choices."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    accepted = {key: kwargs[key] for key in ("mutually_exclusive", "required_together", "required_one_of",
                                             "required_if", "required_by") if kwargs.get(key)}
    result = ArgumentSpecValidator(spec, **accepted).validate(copy.deepcopy(params))
    return [str(error) for error in result.errors]


# --- surveys ------------------------------------------------------------------------------------------------
SURVEY_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                "integer": int, "float": (float, int)}


def survey_spec_problems(survey):
    """What AWX's API refuses in a survey spec (POST .../survey_spec/), as a list of messages."""
    problems = []
    for field, kind in (("name", str), ("description", str), ("spec", list)):
        if not isinstance(survey.get(field), kind):
            problems.append("survey %r: %r missing or not a %s" % (survey.get("name"), field, kind.__name__))
    if problems:
        return problems
    if not survey["spec"]:
        problems.append("survey %r: no question" % survey["name"])
    seen = set()
    for index, question in enumerate(survey["spec"]):
        where = "survey %r question %d" % (survey["name"], index)
        if not isinstance(question, dict):
            problems.append("%s: not an object" % where)
            continue
        missing = ["%s: %r missing or not a %s" % (where, field, kind.__name__)
                   for field, kind in (("type", str), ("question_name", str), ("variable", str), ("required", bool))
                   if not isinstance(question.get(field), kind)]
        if missing:
            # This question's other rules need these fields; the next questions are checked all the same.
            problems += missing
            continue
        if question["variable"] in seen:
            problems.append("%s: variable %r asked twice" % (where, question["variable"]))
        seen.add(question["variable"])
        qtype = question["type"]
        if qtype not in SURVEY_TYPES:
            problems.append("%s: type %r is not one of %s" % (where, qtype, ", ".join(SURVEY_TYPES)))
            continue
        default = question.get("default", "")
        if default != "" and (not isinstance(default, SURVEY_TYPES[qtype]) or isinstance(default, bool)):
            problems.append("%s: default %r is not a %s" % (where, default, qtype))
        for bound in ("min", "max"):
            if question.get(bound) is not None and (not isinstance(question[bound], int) or isinstance(question[bound], bool)):
                problems.append("%s: %s %r is not an integer" % (where, bound, question[bound]))
        if qtype in ("multiplechoice", "multiselect"):
            choices = question.get("choices")
            if not choices:
                problems.append("%s: a %s question needs choices" % (where, qtype))
                continue
            choices = choices.splitlines() if isinstance(choices, str) else choices
            listed = default.splitlines() if isinstance(default, str) else default
            defaults = [d for d in listed if not isinstance(d, str) or d.strip()]
            if qtype == "multiplechoice" and len(defaults) > 1:
                problems.append("%s: a multiplechoice question takes one default" % where)
            if any(d not in choices for d in defaults):
                problems.append("%s: default %r is not one of the choices" % (where, default))
        # A default AWX would drop at launch (outside the question's own bounds) is a mistake here.
        if default != "" and answer_problems(question, default):
            problems.append("%s: default %r fails the question itself: %s" % (where, default, answer_problems(question, default)))
    return problems


def answer_problems(question, value):
    """Why AWX refuses ``value`` as the answer to ``question`` (empty list: accepted)."""
    variable, qtype = question["variable"], question["type"]
    low, high = question.get("min"), question.get("max")
    low = None if low in ("", None) else int(low)
    high = None if high in ("", None) else int(high)
    if qtype in ("text", "textarea", "password"):
        if not isinstance(value, str):
            return ["%s: %r is not a string" % (variable, value)]
        size = len(value)
    elif qtype == "integer":
        if not isinstance(value, int) or isinstance(value, bool):  # AWX takes no boolean for a number
            return ["%s: %r is not an integer" % (variable, value)]
        size = value
    elif qtype == "float":
        if type(value) not in (int, float):
            return ["%s: %r is not a number" % (variable, value)]
        size = value
    else:
        choices = question["choices"].splitlines() if isinstance(question["choices"], str) else question["choices"]
        values = value if qtype == "multiselect" else [value]
        if qtype == "multiselect" and not isinstance(value, list):
            return ["%s: %r is not a list" % (variable, value)]
        return ["%s: %r is not one of %s" % (variable, v, choices) for v in values if v not in choices]
    problems = []
    if low is not None and size < low:
        problems.append("%s: %r is below the minimum %s" % (variable, value, low))
    if high is not None and size > high:
        problems.append("%s: %r is above the maximum %s" % (variable, value, high))
    return problems


def survey_questions(template):
    return template["survey_spec"]["spec"] if template.get("survey_enabled") else []


def survey_defaults(template):
    """The survey's defaults that pass their own question (AWX drops the others at launch)."""
    return {q["variable"]: q["default"] for q in survey_questions(template)
            if q.get("default") is not None and not answer_problems(q, q["default"])}


def template_owned_keys(template, answers=None):
    """The extra vars whose value at launch is the template's own: the only ones AWX leaves templatable. A survey
    answer or default of the same name is the launcher's, and unsafe like every other answer."""
    return set(template.get("extra_vars") or {}) - set(answers or {}) - set(survey_defaults(template))


def launch_extra_vars(template, answers=None):
    """The extra vars of a job launched from ``template`` with survey ``answers``: the template's extra vars, the
    survey's defaults that pass their own question, then the answers. Raises ValueError with AWX's reasons when
    the launch would be refused (a required answer missing, an answer a question refuses, a variable no question
    asks for on a template that does not prompt for variables)."""
    answers = dict(answers or {})
    extra_vars = dict(template.get("extra_vars") or {})
    extra_vars.update(survey_defaults(template))
    questions = survey_questions(template)
    problems = []
    for question in questions:
        variable = question["variable"]
        if variable in answers:
            problems += answer_problems(question, answers[variable])
        elif question["required"] and variable not in extra_vars:
            problems.append("%s: an answer is required" % variable)
    asked = {q["variable"] for q in questions}
    unasked = sorted(set(answers) - asked)
    if unasked and not template.get("ask_variables_on_launch"):
        problems.append("variables %s are not allowed on launch" % ", ".join(unasked))
    if problems:
        raise ValueError("; ".join(problems))
    extra_vars.update(answers)
    return extra_vars


# --- credentials --------------------------------------------------------------------------------------------
# Environment variables a credential may not set (AWX: anything ANSIBLE_*, and these).
ENV_NOT_ALLOWED = frozenset((
    "VIRTUAL_ENV", "PATH", "PYTHONPATH", "JOB_ID", "INVENTORY_ID", "INVENTORY_SOURCE_ID", "INVENTORY_UPDATE_ID",
    "AD_HOC_COMMAND_ID", "REST_API_URL", "REST_API_TOKEN", "MAX_EVENT_RES", "CALLBACK_QUEUE", "CALLBACK_CONNECTION",
    "CACHE", "JOB_CALLBACK_DEBUG", "INVENTORY_HOSTVARS", "AWX_HOST", "PROJECT_REVISION", "SUPERVISOR_CONFIG_PATH"))


def env_name_problem(name):
    if name.startswith("ANSIBLE_"):
        return "%s may change Ansible's configuration: AWX refuses it in a credential" % name
    if name in ENV_NOT_ALLOWED:
        return "%s is one AWX refuses in a credential" % name
    return None


def inject(credential_type, inputs, private_data_dir, undefined=None, written=None):
    """A custom credential type's injectors rendered with ``inputs``: (environment, extra-vars arguments).

    Files are written in ``<private_data_dir>/env`` (mode 0600) and their paths given to the other templates as
    ``tower.filename`` (and added to ``written``); extra vars go to a file there too, passed as ``-e @<file>``."""
    from jinja2 import Undefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Tower:
        pass

    tower = Tower()
    namespace = {"tower": tower}
    namespace.update((key, value) for key, value in inputs.items() if isinstance(value, bool) or len(value))
    for field in credential_type["inputs"].get("fields", []):
        if field.get("type") == "boolean" and field["id"] not in inputs:
            namespace[field["id"]] = False
        # AWX ends a private key with a newline, as OpenSSH wants it.
        if field.get("format") == "ssh_private_key" and field["id"] in namespace and not namespace[field["id"]].endswith("\n"):
            namespace[field["id"]] += "\n"
    sandbox = ImmutableSandboxedEnvironment(undefined=undefined or Undefined)
    env_dir = Path(private_data_dir) / "env"
    injectors = credential_type.get("injectors") or {}
    for label, template in (injectors.get("file") or {}).items():
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, "w") as out:
            out.write(sandbox.from_string(template).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        if written is not None:
            written.append(Path(path))
        if "." not in label:
            tower.filename = path
        else:
            if not hasattr(tower, "filename"):
                tower.filename = Tower()
            setattr(tower.filename, label.split(".", 1)[1], path)
    env = {}
    for name, template in (injectors.get("env") or {}).items():
        problem = env_name_problem(name)
        if problem:
            raise ValueError(problem)
        env[name] = sandbox.from_string(template).render(**namespace)
    args = []
    extra_vars = {name: sandbox.from_string(template).render(**namespace)
                  for name, template in (injectors.get("extra_vars") or {}).items()}
    if extra_vars:
        handle, path = tempfile.mkstemp(dir=env_dir)
        with os.fdopen(handle, "w") as out:
            out.write(unsafe_yaml(extra_vars))
        os.chmod(path, stat.S_IRUSR)
        args += ["-e", "@%s" % path]
    return env, args


class _Unsafe(str):
    pass


class _UnsafeDumper(yaml.SafeDumper):
    pass


_UnsafeDumper.add_representer(_Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value)))


def unsafe_yaml(data, safe=()):
    """YAML as AWX writes extra vars: every string marked !unsafe (never templated), but for the keys in ``safe``
    (a template's own extra vars, which AWX lets its editors template)."""
    def mark(value, top_key=None):
        if top_key in safe:
            return value
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return _Unsafe(value) if isinstance(value, str) else value
    return yaml.dump({k: mark(v, k) for k, v in data.items()}, Dumper=_UnsafeDumper, default_flow_style=False)


def write_inventory_script(path, inventory):
    """The executable inventory AWX writes for a job (inventory/hosts): a script printing ``inventory`` (a dict, or
    the JSON text a sync stored) as JSON."""
    text = inventory if isinstance(inventory, str) else json.dumps(inventory)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint(%r)\n" % text)
    path.chmod(0o700)
    return path


def keys_of(data):
    """Every mapping key in ``data``, at any depth (the variable names of an inventory AWX stores)."""
    if isinstance(data, dict):
        return [k for key, value in data.items() for k in [key] + keys_of(value)]
    if isinstance(data, list):
        return [k for value in data for k in keys_of(value)]
    return []


# --- jobs ---------------------------------------------------------------------------------------------------
class JobRun:
    """One job: its private data directory, status and rc, and the events ansible-runner gave."""

    def __init__(self, template, private_data_dir, ident, runner, events, extra_vars, cmdline):
        self.template = template
        self.name = template["name"]
        self.private_data_dir = Path(private_data_dir)
        self.artifacts = self.private_data_dir / "artifacts" / str(ident)
        self.status = runner.status
        self.rc = runner.rc
        self.events = events
        self.extra_vars = extra_vars
        self.cmdline = cmdline
        self.stdout = (self.artifacts / "stdout").read_text(errors="replace") if (self.artifacts / "stdout").exists() else ""

    def results(self, task_name=None):
        """(host, task name, result) of every task result event, optionally of one task (its name without a role's)."""
        for event in self.events:
            if event.get("event") not in ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_item_on_ok"):
                continue
            data = event.get("event_data", {})
            name = data.get("task", "").split(" : ")[-1]
            if task_name is None or name == task_name:
                yield data.get("host"), name, data.get("res", {})

    def tasks_started(self):
        """Names of the tasks that started (on at least one host), in order."""
        return [e["event_data"].get("task", "").split(" : ")[-1] for e in self.events if e.get("event") == "playbook_on_task_start"]

    def messages(self, task_name):
        return [result.get("msg") for _host, _name, result in self.results(task_name)]

    @property
    def stats(self):
        for event in self.events:
            if event.get("event") == "playbook_on_stats":
                return event["event_data"]
        return {}

    @property
    def changed(self):
        return sum((self.stats.get("changed") or {}).values())

    def explain(self):
        failed = [(h, n, r.get("msg")) for h, n, r in self.results() if r.get("failed")]
        return "%s: status=%s rc=%s failed=%s\n%s" % (self.name, self.status, self.rc, failed[:8], self.stdout[-4000:])


class AwxJobs:
    """Job templates of a plan run as AWX runs them, on this machine instead of an execution node's container.

    ``credential_inputs`` maps a credential type's name to the inputs its credentials hold here (secrets
    included); ``task_env`` is what AWX's "extra environment variables" setting would give every job (endpoints,
    database addresses: nothing secret); ``project_overrides`` replaces files of every copy of the project
    (relative path -> bytes).

    A job's inventory is what the inventory source's last sync stored, as AWX hands it over: the source read with
    ``ansible-inventory --list --export`` (the source's credential injected, no vault password), again at a launch
    when the source updates on launch and its last read is older than its ``update_cache_timeout``."""

    VAULT_TYPE = "Vault"

    def __init__(self, plan, root, credential_inputs, task_env=None, project_overrides=None, project_source=REPO_ROOT):
        self.plan = plan
        self.root = Path(root)
        self.credential_inputs = credential_inputs
        self.task_env = dict(task_env or {})
        self.project_overrides = dict(project_overrides or {})
        self.project_source = project_source
        self.project_list = project_files(project_source, left_out=PROJECT_LEFT_OUT)
        self.revision = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_source, capture_output=True,
                                       text=True, check=True, timeout=60).stdout.strip()
        self.next_id = 1
        self.runs = []
        # Inventory source name -> (when, the inventory it stored); every sync's directory and what it stored.
        self.stored = {}
        self.syncs = []

    def named(self, kind, name):
        found = [item for item in self.plan[kind] if item["name"] == name]
        if len(found) != 1:
            raise KeyError("%d %s named %r in the plan" % (len(found), kind, name))
        return found[0]

    def template(self, suffix):
        """The job template whose name ends with ``suffix`` (e.g. ': scale')."""
        found = [t for t in self.plan["job_templates"] if t["name"].endswith(suffix)]
        if len(found) != 1:
            raise KeyError("%d job templates end with %r" % (len(found), suffix))
        return found[0]

    # The parts of a job, in the order AWX builds them.
    def _project(self, into):
        copy_project(into, self.project_source, self.project_list)
        for relative, content in self.project_overrides.items():
            (into / relative).write_bytes(content)
        return into

    def sync(self, source):
        """An inventory update of ``source`` (a plan inventory source): its ``source_path`` in a copy of the project
        read by ``ansible-inventory --list --export`` with the source's credential injected. Returns the inventory
        AWX stores (its database here: ``self.stored``)."""
        job_id = self.next_id
        self.next_id += 1
        sync_dir = Path(tempfile.mkdtemp(prefix="awx_%d_sync_" % job_id, dir=self.root))
        (sync_dir / "env").mkdir()
        project = self._project(sync_dir / "project")
        env = self._env(sync_dir, job_id)
        credential = self.named("credentials", source["credential"])
        inputs = dict(credential["inputs"], **self.credential_inputs[credential["credential_type"]])
        injected_env = inject(self.named("credential_types", credential["credential_type"]), inputs, sync_dir)[0]
        env.update(injected_env)
        source_path = project / source["source_path"]
        done = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(source_path), "--list",
                               "--export", "--playbook-dir", str(source_path)],
                              cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=300, check=False)
        self.syncs.append((sync_dir, done))
        if done.returncode != 0:
            raise AssertionError("sync of %s failed:\n%s" % (source["name"], done.stderr[-4000:]))
        stored = json.loads(done.stdout)
        self.stored[source["name"]] = (time.monotonic(), stored)
        return stored

    def _inventory(self, private_data_dir, template):
        """The job's inventory/hosts: a script printing what the source's last sync stored, synced first at launch
        when that is older than the source's cache timeout (update_on_launch)."""
        inventory = self.named("inventories", template["inventory"])
        [source] = [s for s in self.plan["inventory_sources"] if s["inventory"] == inventory["name"]]
        when, stored = self.stored.get(source["name"], (None, None))
        if when is None or (source.get("update_on_launch")
                            and time.monotonic() - when >= (source.get("update_cache_timeout") or 0)):
            stored = self.sync(source)
        return write_inventory_script(private_data_dir / "inventory" / "hosts", stored), stored

    def _credentials(self, private_data_dir, template, env, args, written):
        passwords = {"yes": "yes", "no": "no", "": ""}
        for name in template["credentials"]:
            credential = self.named("credentials", name)
            inputs = dict(credential["inputs"], **self.credential_inputs[credential["credential_type"]])
            if credential["credential_type"] == self.VAULT_TYPE:
                key = "vault_password.%s" % inputs["vault_id"] if inputs.get("vault_id") else "vault_password"
                passwords[key] = inputs["vault_password"]
                continue
            injected_env, injected_args = inject(self.named("credential_types", credential["credential_type"]), inputs,
                                                 private_data_dir, written=written)
            env.update(injected_env)
            args.extend(injected_args)
        return passwords

    @staticmethod
    def _prompts(passwords):
        prompts = {r"Enter passphrase for .*:\s*?$": "ssh_key_unlock", r"Bad passphrase, try again for .*:\s*?$": "",
                   r"BECOME password.*:\s*?$": "become_password", r"sudo password.*:\s*?$": "become_password",
                   r"SSH password:\s*?$": "ssh_password", r"Password:\s*?$": "ssh_password",
                   r"Vault password:\s*?$": "vault_password"}
        for key in passwords:
            if key.startswith("vault_password."):
                prompts[r"Vault password \(%s\):\s*?$" % key.split(".", 1)[1]] = key
        return {pattern: passwords.get(key, "") or "" for pattern, key in prompts.items()}

    def _env(self, private_data_dir, job_id):
        config = _ansible_cfg(private_data_dir / "project")
        env = {
            # AWX's own.
            "AWX_PRIVATE_DATA_DIR": str(private_data_dir), "JOB_ID": str(job_id), "INVENTORY_ID": "1",
            "PROJECT_REVISION": self.revision, "ANSIBLE_RETRY_FILES_ENABLED": "False", "MAX_EVENT_RES": "700000",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(private_data_dir / "cp"),
            # The project's ansible.cfg paths after the job's own (requirements installed by the project sync),
            # as AWX sets them; the collection itself is found through the project's collections/ link.
            "ANSIBLE_COLLECTIONS_PATH": ":".join(filter(None, [str(private_data_dir / "requirements_collections"),
                                                               config.get("collections_path"), "~/.ansible/collections",
                                                               "/usr/share/ansible/collections"])),
            "ANSIBLE_ROLES_PATH": ":".join(filter(None, [str(private_data_dir / "requirements_roles"), config.get("roles_path"),
                                                         "~/.ansible/roles", "/usr/share/ansible/roles", "/etc/ansible/roles"])),
            # The execution environment's: its ansible on the PATH, its temporary files with the job's.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "HOME": str(private_data_dir / "home"), "TMPDIR": str(private_data_dir / "tmp"),
            "ANSIBLE_LOCAL_TEMP": str(private_data_dir / "tmp" / "ansible-local"),
            "ANSIBLE_REMOTE_TEMP": str(private_data_dir / "tmp" / "ansible-remote"),
            # No local stack of the checkout's: the endpoints come from the task environment.
            "SOPHIA_EMULATOR_DIR": str(private_data_dir / "no-local-stack"),
        }
        env.update(self.task_env)
        for directory in ("cp", "home", "tmp", "no-local-stack"):
            (private_data_dir / directory).mkdir(exist_ok=True)
        return env

    def run(self, template, answers=None, limit=None, verbosity=None, timeout=1800):
        """Launch ``template`` (a plan job template) with survey ``answers``; returns its JobRun."""
        import ansible_runner

        if limit is not None and not template["ask_limit_on_launch"]:
            raise ValueError("%s does not prompt for a limit" % template["name"])
        if verbosity is not None and not template["ask_verbosity_on_launch"]:
            raise ValueError("%s does not prompt for verbosity" % template["name"])
        extra_vars = launch_extra_vars(template, answers)
        job_id = self.next_id
        self.next_id += 1
        private_data_dir = Path(tempfile.mkdtemp(prefix="awx_%d_" % job_id, dir=self.root))
        os.chmod(private_data_dir, 0o700)
        for sub in ("inventory", "env"):
            (private_data_dir / sub).mkdir()
        self._project(private_data_dir / "project")
        inventory, stored_inventory = self._inventory(private_data_dir, template)

        meta = {"awx_job_id": job_id, "tower_job_id": job_id, "awx_job_launch_type": "manual",
                "awx_job_template_name": template["name"], "awx_project_revision": self.revision,
                "awx_inventory_name": template["inventory"], "awx_execution_node": "localhost"}
        (private_data_dir / "env" / "extravars").write_text(
            unsafe_yaml(dict(extra_vars, **meta), safe=template_owned_keys(template, answers)))
        os.chmod(private_data_dir / "env" / "extravars", 0o600)

        args = ["-u", "root"]
        env = self._env(private_data_dir, job_id)
        # The files a credential's injectors wrote: the secret itself, by design, for the job to read.
        credential_files = []
        passwords = self._credentials(private_data_dir, template, env, args, credential_files)
        for key in sorted(passwords):
            if key.startswith("vault_password."):
                args += ["--vault-id", "%s@prompt" % key.split(".", 1)[1]]
            elif key == "vault_password":
                args.append("--ask-vault-pass")
        if template.get("forks"):
            args.append("--forks=%d" % template["forks"])
        if limit or template.get("limit"):
            args += ["-l", limit or template["limit"]]
        level = template["verbosity"] if verbosity is None else verbosity
        if level:
            args.append("-" + "v" * min(5, level))
        from ansible_runner.utils import args2cmdline

        cmdline = args2cmdline(*args)
        (private_data_dir / "env" / "cmdline").write_text(cmdline)
        # AWX writes its own settings; the output file is kept here (AWX reads the events instead) to be scanned too.
        (private_data_dir / "env" / "settings").write_text(json.dumps(
            {"job_timeout": timeout, "suppress_ansible_output": True, "suppress_output_file": False}))

        events = []
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir), ident=str(job_id), playbook=template["playbook"],
            inventory=str(inventory), envvars=env, passwords=self._prompts(passwords), suppress_env_files=True,
            fact_cache_type="jsonfile" if template["use_fact_cache"] else "", quiet=True,
            event_handler=lambda event: events.append(event) or True)
        job = JobRun(template, private_data_dir, job_id, runner, events, extra_vars, cmdline)
        job.credential_files = credential_files
        job.inventory = stored_inventory
        self.runs.append(job)
        return job

    def workflow(self, name, launch):
        """The workflow's nodes run from its first node along success paths (failure and always paths where a node
        fails or ends); ``launch(template)`` runs each node's job and returns it. Returns the jobs in order."""
        workflow = self.named("workflow_job_templates", name)
        nodes = {node["identifier"]: node for node in workflow["workflow_nodes"]}
        children = {i for node in nodes.values() for kind in ("success_nodes", "failure_nodes", "always_nodes")
                    for i in (c["identifier"] for c in (node.get("related") or {}).get(kind, []))}
        queue = [i for i in nodes if i not in children]
        jobs = []
        while queue:
            node = nodes[queue.pop(0)]
            job = launch(self.named("job_templates", node["unified_job_template"]["name"]))
            jobs.append(job)
            related = node.get("related") or {}
            follow = related.get("success_nodes" if job.status == "successful" else "failure_nodes", [])
            queue += [c["identifier"] for c in follow + related.get("always_nodes", [])]
        return jobs


def _ansible_cfg(project):
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(Path(project) / "ansible.cfg")
    return dict(parser["defaults"]) if parser.has_section("defaults") else {}
