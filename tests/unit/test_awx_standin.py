"""The AWX stand-in's own rules (tests/support/awx.py), without a job run: the survey spec AWX's API accepts and
the answers it takes at launch, the extra vars a job gets, the environment names a credential may not set,
a credential type's injectors rendered into a private data directory, extra vars written !unsafe, the inventory
script of a job, the argument validation of the awx.awx modules' specs, and what a job's events and a workflow's
nodes give."""

from __future__ import annotations

import json
import os
import runpy
import stat
from types import SimpleNamespace

import pytest
import yaml
from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError, UndefinedError

from tests.support import awx


def question(**fields):
    """A survey question AWX accepts, with ``fields`` changed."""
    return dict({"question_name": "Service", "variable": "service", "type": "text", "required": False}, **fields)


def survey(*questions):
    return {"name": "Scale", "description": "", "spec": list(questions)}


def problems_of(*questions):
    return awx.survey_spec_problems(survey(*questions))


def template(*questions, **fields):
    """A job template of a plan with an enabled survey of ``questions``."""
    return dict({"name": "sophia-dev: scale", "extra_vars": {}, "survey_enabled": True,
                 "survey_spec": survey(*questions), "ask_variables_on_launch": False}, **fields)


# ----------------------------------------------------------------- survey specs (POST .../survey_spec/)
def test_a_survey_of_every_question_type_is_accepted():
    assert problems_of(
        question(variable="note", type="text", min=0, max=20, default="hello"),
        question(variable="script", type="textarea", default="a\nb"),
        question(variable="secret", type="password", required=True),
        question(variable="service", type="multiplechoice", choices="api\nworker", default="api"),
        question(variable="services", type="multiselect", choices=["api", "worker"], default=""),
        question(variable="count", type="integer", min=1, max=4, default=2),
        question(variable="ratio", type="float", min=0, max=1, default=0.5),
        question(variable="whole_ratio", type="float", default=1),
    ) == []


@pytest.mark.parametrize("broken, expected", [
    ({"description": "", "spec": [question()]}, "'name' missing or not a str"),
    ({"name": "Scale", "spec": [question()]}, "'description' missing or not a str"),
    ({"name": "Scale", "description": None, "spec": [question()]}, "'description' missing or not a str"),
    ({"name": "Scale", "description": "", "spec": {"service": question()}}, "'spec' missing or not a list"),
])
def test_a_survey_without_its_name_description_or_list_of_questions_is_refused(broken, expected):
    problems = awx.survey_spec_problems(broken)
    assert len(problems) == 1 and expected in problems[0], problems


def test_a_survey_needs_a_question_and_each_question_is_an_object():
    assert awx.survey_spec_problems(survey()) == ["survey 'Scale': no question"]
    assert problems_of("service") == ["survey 'Scale' question 0: not an object"]


@pytest.mark.parametrize("field", ["type", "question_name", "variable", "required"])
def test_a_question_missing_a_field_is_refused(field):
    incomplete = question()
    del incomplete[field]
    assert problems_of(incomplete) == ["survey 'Scale' question 0: %r missing or not a %s"
                                       % (field, "bool" if field == "required" else "str")]


def test_required_is_a_boolean_not_a_string_that_reads_like_one():
    assert problems_of(question(required="true")) == ["survey 'Scale' question 0: 'required' missing or not a bool"]


def test_a_broken_question_does_not_hide_the_next_one_s_problems():
    problems = problems_of(question(variable=None), question(variable="count", type="integer", default="two"))
    assert problems[0] == "survey 'Scale' question 0: 'variable' missing or not a str"
    assert "survey 'Scale' question 1: default 'two' is not a integer" in problems


def test_a_choice_default_listed_with_a_number_is_refused_not_a_crash():
    problems = problems_of(question(type="multiselect", choices=["api", "worker"], default=["api", 2]))
    assert "survey 'Scale' question 0: default ['api', 2] is not one of the choices" in problems


def test_a_variable_asked_twice_is_refused_at_its_second_question():
    problems = problems_of(question(), question(variable="count", type="integer"), question(question_name="Again"))
    assert problems == ["survey 'Scale' question 2: variable 'service' asked twice"]


def test_a_question_type_awx_does_not_know_is_refused():
    problems = problems_of(question(type="number"))
    assert len(problems) == 1 and "type 'number' is not one of text, textarea" in problems[0]


@pytest.mark.parametrize("qtype, default", [
    ("integer", "2"), ("integer", 2.0), ("float", "0.5"), ("text", 3), ("password", ["x"]),
    # AWX's launch checks type(value) == int: a boolean default would be dropped, so it is refused here.
    ("integer", True), ("float", False),
])
def test_a_default_of_the_wrong_type_is_refused(qtype, default):
    problems = problems_of(question(variable="count", type=qtype, default=default))
    assert "survey 'Scale' question 0: default %r is not a %s" % (default, qtype) in problems


def test_an_empty_default_means_no_default_whatever_the_type():
    assert problems_of(question(type="integer", default=""), question(variable="ratio", type="float", default="")) == []


@pytest.mark.parametrize("bound, value", [("min", "1"), ("max", 4.5), ("max", True)])
def test_a_min_or_max_that_is_not_an_integer_is_refused(bound, value):
    problems = problems_of(question(type="integer", **{bound: value}))
    assert "survey 'Scale' question 0: %s %r is not an integer" % (bound, value) in problems


def test_no_bound_is_no_bound():
    assert problems_of(question(type="integer", min=None, max=None, default=10 ** 9)) == []


@pytest.mark.parametrize("qtype", ["multiplechoice", "multiselect"])
@pytest.mark.parametrize("choices", [{}, {"choices": ""}, {"choices": []}])
def test_a_choice_question_needs_choices(qtype, choices):
    assert problems_of(question(type=qtype, **choices)) == ["survey 'Scale' question 0: a %s question needs choices"
                                                            % qtype]


def test_a_choice_default_is_one_of_the_choices_given_as_lines_or_a_list():
    assert problems_of(question(type="multiplechoice", choices=["api", "worker"], default="api")) == []
    assert problems_of(question(type="multiplechoice", choices="api\nworker", default="worker")) == []
    problems = problems_of(question(type="multiplechoice", choices="api\nworker", default="web"))
    assert "survey 'Scale' question 0: default 'web' is not one of the choices" in problems
    # One choice per line: a default that is only part of a choice is none of them.
    problems = problems_of(question(type="multiplechoice", choices="api-web\nworker", default="api"))
    assert "survey 'Scale' question 0: default 'api' is not one of the choices" in problems


def test_a_multiple_choice_question_takes_one_default():
    problems = problems_of(question(type="multiplechoice", choices="api\nworker", default="api\nworker"))
    assert "survey 'Scale' question 0: a multiplechoice question takes one default" in problems


def test_a_default_outside_the_question_s_own_bounds_is_refused():
    problems = problems_of(question(variable="count", type="integer", min=1, max=4, default=9))
    assert problems == ["survey 'Scale' question 0: default 9 fails the question itself: "
                        "['count: 9 is above the maximum 4']"]
    problems = problems_of(question(type="text", min=3, default="ab"))
    assert len(problems) == 1 and "below the minimum 3" in problems[0]


def test_a_multiselect_default_is_refused_as_awx_would_drop_it_at_launch():
    # AWX wants the default as a string of lines, then at launch checks it as an answer, which must be a list:
    # the default never reaches the job, so a survey here may not give one.
    problems = problems_of(question(type="multiselect", choices="api\nworker", default="api"))
    assert len(problems) == 1 and "fails the question itself" in problems[0] and "is not a list" in problems[0]


# ----------------------------------------------------------------- answers at launch
@pytest.mark.parametrize("qtype", ["text", "textarea", "password"])
def test_a_text_answer_is_a_string_between_min_and_max_characters(qtype):
    asked = question(type=qtype, min=2, max="4")
    assert awx.answer_problems(asked, "api") == []
    assert awx.answer_problems(asked, "ab") == [] and awx.answer_problems(asked, "abcd") == []
    assert awx.answer_problems(asked, "a") == ["service: 'a' is below the minimum 2"]
    assert awx.answer_problems(asked, "abcde") == ["service: 'abcde' is above the maximum 4"]
    assert awx.answer_problems(asked, 123) == ["service: 123 is not a string"]


def test_an_empty_bound_is_no_bound():
    assert awx.answer_problems(question(min="", max=None), "") == []
    assert awx.answer_problems(question(type="integer", min="", max=""), -5) == []


def test_an_integer_answer_is_an_int_not_a_bool_float_or_string():
    asked = question(variable="count", type="integer", min=1, max=4)
    assert awx.answer_problems(asked, 1) == [] and awx.answer_problems(asked, 4) == []
    assert awx.answer_problems(asked, 0) == ["count: 0 is below the minimum 1"]
    assert awx.answer_problems(asked, 5) == ["count: 5 is above the maximum 4"]
    for wrong in (True, 2.0, "2", None):
        assert awx.answer_problems(asked, wrong) == ["count: %r is not an integer" % (wrong,)]


def test_a_float_answer_is_an_int_or_a_float_not_a_bool():
    asked = question(variable="ratio", type="float", min=0, max=1)
    assert awx.answer_problems(asked, 0.25) == [] and awx.answer_problems(asked, 1) == []
    assert awx.answer_problems(asked, 1.5) == ["ratio: 1.5 is above the maximum 1"]
    assert awx.answer_problems(asked, -0.1) == ["ratio: -0.1 is below the minimum 0"]
    assert awx.answer_problems(asked, True) == ["ratio: True is not a number"]
    assert awx.answer_problems(asked, "0.5") == ["ratio: '0.5' is not a number"]


def test_a_multiple_choice_answer_is_one_of_the_choices():
    asked = question(type="multiplechoice", choices="api\nworker")
    assert awx.answer_problems(asked, "worker") == []
    assert awx.answer_problems(asked, "web") == ["service: 'web' is not one of ['api', 'worker']"]
    assert awx.answer_problems(asked, ["api"]) == ["service: ['api'] is not one of ['api', 'worker']"]


def test_a_multiselect_answer_is_a_list_of_choices_each_wrong_one_named():
    asked = question(type="multiselect", choices=["api", "worker"])
    assert awx.answer_problems(asked, ["api", "worker"]) == [] and awx.answer_problems(asked, []) == []
    assert awx.answer_problems(asked, "api") == ["service: 'api' is not a list"]
    assert awx.answer_problems(asked, ["api", "web", "db"]) == ["service: 'web' is not one of ['api', 'worker']",
                                                                "service: 'db' is not one of ['api', 'worker']"]


# ----------------------------------------------------------------- a job's extra vars
def test_extra_vars_are_the_template_s_then_the_defaults_then_the_answers():
    launched = template(question(variable="count", type="integer", default=2),
                        question(variable="service", default="api"),
                        question(variable="mode", default="rolling"),
                        extra_vars={"count": 1, "service": "all", "region": "ams"})
    assert awx.launch_extra_vars(launched, {"mode": "canary"}) == {
        "count": 2, "service": "api", "region": "ams", "mode": "canary"}
    assert launched["extra_vars"] == {"count": 1, "service": "all", "region": "ams"}, "the template is left as it was"


def test_a_default_its_own_question_refuses_never_reaches_the_job():
    launched = template(question(variable="count", type="integer", min=1, default=0),
                        question(variable="service", type="multiselect", choices="api\nworker", default="api"),
                        extra_vars={"count": 3})
    assert awx.launch_extra_vars(launched) == {"count": 3}


def test_a_required_question_without_an_answer_refuses_the_launch():
    launched = template(question(variable="count", type="integer", required=True))
    with pytest.raises(ValueError, match="^count: an answer is required$"):
        awx.launch_extra_vars(launched)
    assert awx.launch_extra_vars(launched, {"count": 2}) == {"count": 2}


def test_an_answer_its_question_refuses_refuses_the_launch_with_every_reason():
    launched = template(question(variable="count", type="integer", max=4),
                        question(variable="service", type="multiplechoice", choices="api\nworker"))
    with pytest.raises(ValueError) as refused:
        awx.launch_extra_vars(launched, {"count": 9, "service": "web"})
    assert str(refused.value) == "count: 9 is above the maximum 4; service: 'web' is not one of ['api', 'worker']"


def test_a_variable_no_question_asks_for_needs_a_template_that_prompts_for_variables():
    launched = template(question())
    with pytest.raises(ValueError, match="^variables debug, region are not allowed on launch$"):
        awx.launch_extra_vars(launched, {"service": "api", "region": "ams", "debug": True})
    prompting = dict(launched, ask_variables_on_launch=True)
    assert awx.launch_extra_vars(prompting, {"service": "api", "region": "ams"}) == {"service": "api", "region": "ams"}


def test_a_disabled_survey_asks_nothing_and_gives_no_default():
    launched = template(question(default="api"), survey_enabled=False, extra_vars={"region": "ams"})
    assert awx.launch_extra_vars(launched) == {"region": "ams"}
    with pytest.raises(ValueError, match="variables service are not allowed on launch"):
        awx.launch_extra_vars(launched, {"service": "api"})


# ----------------------------------------------------------------- credentials: environment names
@pytest.mark.parametrize("name", ["ANSIBLE_CONFIG", "ANSIBLE_BECOME_PASSWORD", "ANSIBLE_"])
def test_a_credential_may_not_change_ansible_s_configuration(name):
    assert awx.env_name_problem(name) == "%s may change Ansible's configuration: AWX refuses it in a credential" % name


@pytest.mark.parametrize("name", ["PATH", "PYTHONPATH", "JOB_ID", "AWX_HOST", "REST_API_TOKEN", "VIRTUAL_ENV"])
def test_a_credential_may_not_set_the_variables_awx_keeps_for_itself(name):
    assert awx.env_name_problem(name) == "%s is one AWX refuses in a credential" % name


@pytest.mark.parametrize("name", ["FLY_API_TOKEN", "LAMBDA_API_KEY", "ANSIBLE", "MY_ANSIBLE_TOKEN", "PATH_PREFIX"])
def test_other_environment_names_are_a_credential_s_to_set(name):
    assert awx.env_name_problem(name) is None


# ----------------------------------------------------------------- credentials: injectors
API_TYPE = {
    "name": "Made-up API",
    "inputs": {"fields": [
        {"id": "host", "label": "Host", "type": "string"},
        {"id": "token", "label": "Token", "type": "string", "secret": True},
        {"id": "region", "label": "Region", "type": "string"},
        {"id": "verify", "label": "Verify TLS", "type": "boolean"},
        {"id": "ssh_key", "label": "SSH key", "type": "string", "format": "ssh_private_key", "secret": True},
    ], "required": ["host", "token"]},
    "injectors": {
        "file": {"template.config": "[api]\nhost = {{ host }}\ntoken = {{ token }}\n",
                 "template.key": "{{ ssh_key }}"},
        "env": {"API_HOST": "{{ host }}", "API_TOKEN": "{{ token }}", "API_CONFIG": "{{ tower.filename.config }}",
                "API_VERIFY": "{{ verify }}", "API_REGION": "{{ region | default('ams') }}"},
        "extra_vars": {"api_host": "{{ host }}", "api_key_file": "{{ tower.filename.key }}"},
    },
}
INPUTS = {"host": "api.example.test", "token": "t0k{{ not_a_template }}", "region": "",
          "ssh_key": "-----BEGIN KEY-----\nabc\n-----END KEY-----"}


class _UnsafeLoader(yaml.SafeLoader):
    """Loads a !unsafe string as ("unsafe", text), to tell it from a plain one."""


_UnsafeLoader.add_constructor("!unsafe", lambda loader, node: ("unsafe", loader.construct_scalar(node)))


def load_marked(text):
    return yaml.load(text, Loader=_UnsafeLoader)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def private_data_dir(tmp_path):
    (tmp_path / "env").mkdir()
    return tmp_path


def test_files_are_written_in_env_for_the_job_alone_and_named_by_their_label(private_data_dir):
    written = []
    env, args = awx.inject(API_TYPE, INPUTS, private_data_dir, written=written)
    config, key = written
    assert config.parent == key.parent == private_data_dir / "env"
    assert mode(config) == mode(key) == 0o600
    # An input's value is text, never a template of its own; Jinja drops the template's own last newline, as in AWX
    # (its sandbox keeps Jinja's keep_trailing_newline=False).
    assert config.read_text() == "[api]\nhost = api.example.test\ntoken = t0k{{ not_a_template }}"
    assert key.read_text() == "-----BEGIN KEY-----\nabc\n-----END KEY-----\n", "a private key ends with a newline"
    assert env["API_CONFIG"] == str(config)
    assert args[0] == "-e" and load_marked(open(args[1][1:]).read())["api_key_file"] == ("unsafe", str(key))


def test_environment_variables_are_the_env_templates_rendered(private_data_dir):
    env, dummy = awx.inject(API_TYPE, INPUTS, private_data_dir)
    assert set(env) == {"API_HOST", "API_TOKEN", "API_CONFIG", "API_VERIFY", "API_REGION"}
    assert env["API_HOST"] == "api.example.test" and env["API_TOKEN"] == "t0k{{ not_a_template }}"
    # A boolean field not given is False; an empty input is no input at all (its template's default applies).
    assert env["API_VERIFY"] == "False" and env["API_REGION"] == "ams"
    env, dummy = awx.inject(API_TYPE, dict(INPUTS, verify=True, region="fra"), private_data_dir)
    assert env["API_VERIFY"] == "True" and env["API_REGION"] == "fra"


def test_extra_vars_go_to_a_read_only_file_given_with_e_at_and_are_unsafe(private_data_dir):
    written = []
    env, args = awx.inject(API_TYPE, INPUTS, private_data_dir, written=written)
    assert len(args) == 2 and args[0] == "-e" and args[1].startswith("@")
    extra_vars_file = args[1][1:]
    assert os.path.dirname(extra_vars_file) == str(private_data_dir / "env")
    assert extra_vars_file not in map(str, written), "only the file injectors' files are the credential's files"
    assert mode(extra_vars_file) == 0o400
    assert load_marked(open(extra_vars_file).read()) == {"api_host": ("unsafe", "api.example.test"),
                                                         "api_key_file": ("unsafe", str(written[1]))}


def test_no_extra_vars_injector_no_e_argument_and_a_single_file_is_tower_filename(private_data_dir):
    single = {"inputs": {"fields": [{"id": "token", "type": "string"}]},
              "injectors": {"file": {"template": "{{ token }}"}, "env": {"TOKEN_FILE": "{{ tower.filename }}"}}}
    written = []
    env, args = awx.inject(single, {"token": "t0k"}, private_data_dir, written=written)
    assert args == [] and env == {"TOKEN_FILE": str(written[0])} and written[0].read_text() == "t0k"
    assert sorted(os.listdir(private_data_dir / "env")) == [written[0].name], "no extra vars file either"


def test_a_type_without_injectors_injects_nothing(private_data_dir):
    assert awx.inject({"inputs": {}}, {}, private_data_dir) == ({}, [])
    assert os.listdir(private_data_dir / "env") == []


def test_a_key_that_already_ends_with_a_newline_keeps_one(private_data_dir):
    written = []
    awx.inject(API_TYPE, dict(INPUTS, ssh_key="KEY\n"), private_data_dir, written=written)
    assert written[1].read_text() == "KEY\n"


@pytest.mark.parametrize("name", ["ANSIBLE_VAULT_PASSWORD_FILE", "PATH"])
def test_an_env_injector_awx_refuses_refuses_the_injection(private_data_dir, name):
    refused = {"inputs": {"fields": [{"id": "token", "type": "string"}]},
               "injectors": {"env": {"API_TOKEN": "{{ token }}", name: "{{ token }}"}}}
    with pytest.raises(ValueError, match="^%s " % name):
        awx.inject(refused, {"token": "t0k"}, private_data_dir)


def test_an_undefined_name_is_empty_unless_the_caller_asks_for_strictness(private_data_dir):
    typo = {"inputs": {"fields": [{"id": "token", "type": "string"}]}, "injectors": {"env": {"TOKEN": "{{ tokn }}"}}}
    assert awx.inject(typo, {"token": "t0k"}, private_data_dir) == ({"TOKEN": ""}, [])
    with pytest.raises(UndefinedError):
        awx.inject(typo, {"token": "t0k"}, private_data_dir, undefined=StrictUndefined)
    # An empty input is undefined too.
    fine = dict(typo, injectors={"env": {"TOKEN": "{{ token }}"}})
    with pytest.raises(UndefinedError):
        awx.inject(fine, {"token": ""}, private_data_dir, undefined=StrictUndefined)


def test_templates_are_rendered_in_an_immutable_sandbox(private_data_dir):
    for template_text in ("{{ [1].append(2) }}", "{{ ''.__class__.__mro__ }}"):
        escaping = {"inputs": {}, "injectors": {"env": {"X": template_text}}}
        with pytest.raises(SecurityError):
            awx.inject(escaping, {}, private_data_dir)


# ----------------------------------------------------------------- extra vars as AWX writes them
def test_every_string_is_unsafe_at_any_depth_other_values_stay_as_they_are():
    text = awx.unsafe_yaml({"service": "{{ api }}", "count": 2, "debug": True, "none": None,
                            "nodes": ["a", {"name": "b", "size": 1}]})
    assert load_marked(text) == {"service": ("unsafe", "{{ api }}"), "count": 2, "debug": True, "none": None,
                                 "nodes": [("unsafe", "a"), {"name": ("unsafe", "b"), "size": 1}]}


def test_a_safe_top_level_key_keeps_its_whole_value_templatable():
    text = awx.unsafe_yaml({"greeting": "{{ hello }}", "nested": {"x": ["{{ y }}"]}, "answer": "{{ z }}"},
                           safe={"greeting", "nested"})
    assert load_marked(text) == {"greeting": "{{ hello }}", "nested": {"x": ["{{ y }}"]},
                                 "answer": ("unsafe", "{{ z }}")}
    # Only a top-level key is looked up in ``safe``: a nested key of the same name is still unsafe.
    assert load_marked(awx.unsafe_yaml({"outer": {"x": "v"}}, safe={"x"})) == {"outer": {"x": ("unsafe", "v")}}


def test_only_the_template_s_own_extra_vars_stay_templatable():
    launched = template(question(variable="service", default="{{ all }}"), question(variable="region"),
                        extra_vars={"greeting": "{{ hello }}", "service": "api", "region": "{{ home }}"},
                        ask_variables_on_launch=True)
    answers = {"region": "{{ lookup('env', 'HOME') }}"}
    # Overridden by a survey default or an answer, a template's variable is the launcher's: unsafe like any answer.
    assert awx.template_owned_keys(launched, answers) == {"greeting"}
    text = awx.unsafe_yaml(awx.launch_extra_vars(launched, answers), safe=awx.template_owned_keys(launched, answers))
    assert load_marked(text) == {"greeting": "{{ hello }}", "service": ("unsafe", "{{ all }}"),
                                 "region": ("unsafe", "{{ lookup('env', 'HOME') }}")}


def test_unsafe_yaml_is_yaml_a_plain_loader_reads_back():
    data = {"multi": "line one\nline two", "quote": "it's \"quoted\"", "unicode": "Zürich", "empty": ""}
    assert yaml.load(awx.unsafe_yaml(data).replace("!unsafe", ""), Loader=yaml.SafeLoader) == data


# ----------------------------------------------------------------- inventories
def test_every_key_at_any_depth_in_order():
    stored = {"_meta": {"hostvars": {"web1": {"vault_token": "x", "port": 80}}},
              "all": {"children": ["fly"]}, "fly": {"hosts": ["web1"], "vars": [{"region": "ams"}, "loose"]}}
    assert awx.keys_of(stored) == ["_meta", "hostvars", "web1", "vault_token", "port", "all", "children", "fly",
                                   "hosts", "vars", "region"]
    assert awx.keys_of([]) == [] and awx.keys_of("not a mapping") == [] and awx.keys_of([[{"a": 1}]]) == ["a"]


def test_the_inventory_script_prints_what_the_sync_stored(tmp_path, capsys):
    inventory = {"all": {"hosts": ["web1"]},
                 "_meta": {"hostvars": {"web1": {"motto": "it's \"quoted\"\n\\n", "city": "Z\u00fcrich"}}}}
    path = awx.write_inventory_script(tmp_path / "inventory" / "hosts", inventory)
    assert path == tmp_path / "inventory" / "hosts"
    assert mode(path) == 0o700
    # ansible-runner runs it by its first line; AWX's execution environment has a python3 on its PATH.
    assert path.read_text().splitlines()[0] == "#! /usr/bin/env python3"
    runpy.run_path(str(path))
    printed = capsys.readouterr().out
    assert printed == json.dumps(inventory) + "\n" and json.loads(printed) == inventory


def test_an_inventory_stored_as_json_text_is_printed_as_it_is(tmp_path, capsys):
    stored = '{"all": {"hosts": []},  "_meta": {"hostvars": {}}}'
    path = awx.write_inventory_script(tmp_path / "hosts", stored)
    runpy.run_path(str(path))
    assert capsys.readouterr().out == stored + "\n"


# ----------------------------------------------------------------- the awx.awx modules' arguments
DOCUMENTED = {
    "name": {"description": "The node's name.", "type": "str", "required": True},
    "kind": {"type": "str", "choices": ["job", "approval"], "default": "job"},
    "size": {"type": "int", "aliases": ["count"]},
    "related": {"type": "dict", "suboptions": {
        "success_nodes": {"type": "list", "elements": "dict", "suboptions": {
            "identifier": {"type": "str", "required": True, "description": "Which node."}}}}},
}


def test_a_spec_from_documented_suboptions_keeps_what_validation_uses():
    assert awx.spec_of_suboptions(DOCUMENTED) == {
        "name": {"type": "str", "required": True},
        "kind": {"type": "str", "choices": ["job", "approval"]},
        "size": {"type": "int", "aliases": ["count"]},
        "related": {"type": "dict", "options": {
            "success_nodes": {"type": "list", "elements": "dict", "options": {
                "identifier": {"type": "str", "required": True}}}}},
    }


def test_arguments_the_spec_accepts_have_no_problem_and_are_left_as_given():
    params = {"name": "deploy", "count": "3", "related": {"success_nodes": [{"identifier": "harden"}]}}
    assert awx.argument_problems(awx.spec_of_suboptions(DOCUMENTED), {}, params) == []
    assert params == {"name": "deploy", "count": "3", "related": {"success_nodes": [{"identifier": "harden"}]}}


def test_unknown_names_wrong_types_bad_choices_and_missing_ones_are_problems():
    spec = awx.spec_of_suboptions(DOCUMENTED)
    problems = awx.argument_problems(spec, {}, {"name": "deploy", "kind": "jobs", "size": "three", "colour": "red",
                                                "related": {"sucess_nodes": [], "success_nodes": [{}]}})
    joined = "\n".join(problems)
    assert "value of kind must be one of: job, approval, got: jobs" in joined
    assert "'size' is of type str and we were unable to convert to int" in joined
    assert "colour" in joined and "related.sucess_nodes" in joined
    assert "missing required arguments: identifier found in related -> success_nodes" in joined
    assert awx.argument_problems(spec, {}, {}) == ["missing required arguments: name"]


def test_the_module_s_own_rules_apply_and_its_other_keywords_are_ignored():
    spec = awx.spec_of_suboptions(DOCUMENTED)
    kwargs = {"mutually_exclusive": [["kind", "size"]], "required_if": [], "supports_check_mode": True}
    assert awx.argument_problems(spec, kwargs, {"name": "n", "kind": "job"}) == []
    assert awx.argument_problems(spec, kwargs, {"name": "n", "kind": "job", "size": 2}) == [
        "parameters are mutually exclusive: kind|size"]


def test_a_module_s_spec_is_its_main_s_with_the_controller_options():
    spec, kwargs = awx.module_spec("job_template")
    assert {"name", "playbook", "survey_spec", "survey_enabled", "extra_vars"} <= set(spec)
    assert {"controller_host", "controller_oauthtoken"} <= set(spec)
    assert awx.argument_problems(spec, kwargs, {"name": "n", "survey_enabld": True})
    assert awx.argument_problems(spec, kwargs, {"name": "n", "survey_enabled": True}) == []


# ----------------------------------------------------------------- a job's events, a workflow's nodes
def event(kind, task="", host="web1", **res):
    return {"event": kind, "event_data": {"task": task, "host": host, "res": res}}


def test_a_job_s_results_are_its_task_result_events_named_without_their_role(tmp_path):
    events = [{"event": "playbook_on_task_start", "event_data": {"task": "app : Deploy"}},
              event("runner_on_ok", "app : Deploy", msg="deployed", changed=True),
              event("runner_on_failed", "app : Deploy", host="web2", msg="boom", failed=True),
              {"event": "playbook_on_task_start", "event_data": {"task": "Report"}},
              event("runner_on_skipped", "Report"), event("verbose"),
              {"event": "playbook_on_stats", "event_data": {"changed": {"web1": 1, "web2": 2}}}]
    job = awx.JobRun({"name": "sophia-dev: deploy"}, tmp_path, 7, SimpleNamespace(status="failed", rc=2), events,
                     {}, "-u root")
    assert job.artifacts == tmp_path / "artifacts" / "7" and job.stdout == ""
    assert job.tasks_started() == ["Deploy", "Report"]
    assert [(host, name) for host, name, dummy in job.results()] == [
        ("web1", "Deploy"), ("web2", "Deploy"), ("web1", "Report")]
    assert job.messages("Deploy") == ["deployed", "boom"]
    assert job.changed == 3
    assert "failed=[('web2', 'Deploy', 'boom')]" in job.explain()


def test_a_job_without_stats_changed_nothing(tmp_path):
    job = awx.JobRun({"name": "t"}, tmp_path, 1, SimpleNamespace(status="error", rc=1), [], {}, "")
    assert job.stats == {} and job.changed == 0


def jobs_of(workflow_nodes, templates):
    jobs = awx.AwxJobs.__new__(awx.AwxJobs)  # no project copy, no git: only the plan is needed
    jobs.plan = {"workflow_job_templates": [{"name": "rollout", "workflow_nodes": workflow_nodes}],
                 "job_templates": [{"name": name} for name in templates]}
    return jobs


def node(identifier, success=(), failure=(), always=()):
    related = {"success_nodes": [{"identifier": i} for i in success],
               "failure_nodes": [{"identifier": i} for i in failure],
               "always_nodes": [{"identifier": i} for i in always]}
    return {"identifier": identifier, "unified_job_template": {"name": identifier}, "related": related}


def test_a_workflow_follows_success_failure_and_always_paths():
    nodes = [node("prepare", success=["deploy"], failure=["notify"]),
             node("deploy", failure=["rollback"], always=["report"]),
             node("rollback"), node("notify"), node("report")]
    jobs = jobs_of(nodes, ["prepare", "deploy", "rollback", "notify", "report"])
    failing = {"deploy"}

    def launch(job_template):
        return SimpleNamespace(name=job_template["name"],
                               status="failed" if job_template["name"] in failing else "successful")

    assert [job.name for job in jobs.workflow("rollout", launch)] == ["prepare", "deploy", "rollback", "report"]
    failing = {"prepare"}
    assert [job.name for job in jobs.workflow("rollout", launch)] == ["prepare", "notify"]


def test_a_workflow_or_template_named_twice_or_not_at_all_is_an_error():
    jobs = jobs_of([node("prepare")], ["prepare", "prepare"])
    with pytest.raises(KeyError, match="2 job_templates named 'prepare'"):
        jobs.workflow("rollout", lambda job_template: None)
    with pytest.raises(KeyError, match="0 workflow_job_templates named 'other'"):
        jobs.named("workflow_job_templates", "other")


def test_vault_passwords_answer_their_prompts_and_nothing_else_is_answered():
    prompts = awx.AwxJobs._prompts({"yes": "yes", "no": "no", "": "", "vault_password": "v",
                                    "vault_password.prod": "p"})
    assert prompts[r"Vault password:\s*?$"] == "v"
    assert prompts[r"Vault password \(prod\):\s*?$"] == "p"
    assert prompts[r"SSH password:\s*?$"] == "" and prompts[r"BECOME password.*:\s*?$"] == ""
    assert r"Vault password \(staging\):\s*?$" not in prompts
