# Tables and rows of a plain pg_dump file, as one JSON object {"schema.table": rows, ...}: every table's
# data is a COPY block of one line per row (newlines inside values are escaped), ended by "\.".
function json_string(text) {
  gsub(/\\/, "\\\\", text)
  gsub(/"/, "\\\"", text)
  return "\"" text "\""
}
BEGIN { inside = 0; first = 1; printf "{" }
inside && $0 == "\\." {
  printf "%s%s: %d", (first ? "" : ", "), json_string(table), rows
  first = 0; inside = 0
  next
}
inside { rows++; next }
/^COPY .* FROM stdin;$/ {
  table = $0
  sub(/^COPY /, "", table)
  sub(/ FROM stdin;$/, "", table)
  sub(/ \([^()]*\)$/, "", table)
  inside = 1; rows = 0
}
END { print "}" }
