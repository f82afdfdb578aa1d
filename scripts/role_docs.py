"""Write each role's variables table into its README.md from meta/argument_specs.yml.

    scripts/role-docs          rewrite the tables (this file, run by that wrapper)
    scripts/role-docs --check  exit 1 when a README is not current (the tests run this)

The table sits between the markers below; the rest of the README is the role's own prose.
"""
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- variables:begin (scripts/role-docs) -->", "<!-- variables:end -->"


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(options):
    rows = ["| variable | type | default | description |", "| --- | --- | --- | --- |"]
    for name, spec in options.items():
        kind = spec.get("type", "str")
        if spec.get("elements"):
            kind += " of " + spec["elements"]
        if spec.get("required"):
            default = "required"
        elif "default" in spec:
            default = "`%s`" % cell(yaml.safe_dump(spec["default"], default_flow_style=True, width=1000).strip().removesuffix("\n...").removesuffix("..."))
        else:
            default = "see `defaults/main.yml`"
        desc = spec.get("description", "")
        desc = " ".join(desc) if isinstance(desc, list) else desc
        if spec.get("choices"):
            desc += " Choices: %s." % ", ".join("`%s`" % c for c in spec["choices"])
        rows.append("| `%s` | %s | %s | %s |" % (name, kind, default, cell(desc)))
    return "\n".join(rows)


def render(role):
    spec = yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]["main"]
    readme = role / "README.md"
    block = "%s\n%s\n%s" % (BEGIN, table(spec.get("options", {})), END)
    if readme.exists():
        text = readme.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            return readme, head + block + rest.split(END, 1)[1]
        return readme, text.rstrip("\n") + "\n\n## Variables\n\n" + block + "\n"
    title = "# %s\n\n%s\n\n## Variables\n\n" % (role.name, spec.get("short_description", ""))
    return readme, title + block + "\n"


def main():
    stale = []
    for role in sorted((ROOT / "roles").iterdir()):
        if not (role / "meta/argument_specs.yml").exists():
            continue
        readme, text = render(role)
        if readme.exists() and readme.read_text() == text:
            continue
        if "--check" in sys.argv:
            stale.append(str(readme.relative_to(ROOT)))
        else:
            readme.write_text(text)
    if stale:
        sys.exit("not current, run scripts/role-docs: " + ", ".join(stale))


if __name__ == "__main__":
    main()
