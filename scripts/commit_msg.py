"""Git commit-msg hook: the subject is `area: change` in 72 characters at most, and a body follows a blank line.

Install it once per checkout: `ln -s ../../scripts/commit-msg .git/hooks/commit-msg` (CONTRIBUTING.md);
scripts/commit-msg runs this file.
Run by hand on a message file: `scripts/commit-msg FILE`.
"""
import re
import sys

SUBJECT_LIMIT = 72
# `area: change`: a lower-case area (a module, role, folder or topic, may hold / . _ -), a colon, a space.
SUBJECT = re.compile(r"^[a-z0-9][a-z0-9_./-]*(, ?[a-z0-9][a-z0-9_./-]*)*: \S")


def problems(message):
    """What is wrong with a commit message, as sentences; empty when it follows the convention."""
    lines = [line for line in message.splitlines() if not line.startswith("#")]
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return ["the message is empty"]
    subject = lines[0]
    if subject.startswith(("fixup! ", "squash! ", "Merge ", "Revert ")):
        return []
    found = []
    if len(subject) > SUBJECT_LIMIT:
        found.append("the subject is %d characters; at most %d" % (len(subject), SUBJECT_LIMIT))
    if not SUBJECT.match(subject):
        found.append("the subject is not 'area: change' (for example 'fly_machine: keep the healthy floor')")
    if len(lines) > 1 and lines[1].strip():
        found.append("a blank line goes between the subject and the body")
    return found


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: commit-msg FILE\n")
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        found = problems(handle.read())
    for problem in found:
        sys.stderr.write("commit-msg: %s\n" % problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
