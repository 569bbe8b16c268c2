#!/usr/bin/env python3
"""Checks a pollscope document against its JSON Schema: a run's report against
cli/report.schema.json, a comparison (pollscope compare) against cli/comparison.schema.json.

Usage: validate_report.py SCHEMA REPORT

Exits 0 when REPORT is valid, else 1, with one line saying why. Beyond the schema (JSON Schema
draft 2020-12, through the jsonschema module: Debian's python3-jsonschema), the report must be
strict JSON: no NaN or Infinity (which Python's json module would otherwise accept) and no key
given twice in one object (which it would otherwise silently collapse).
"""

import json
import sys


class StrictJsonError(ValueError):
    pass


def reject_constant(name):
    raise StrictJsonError(f"non-finite number {name} (JSON has no NaN or Infinity)")


def unique_keys(pairs):
    document = {}
    for key, value in pairs:
        if key in document:
            raise StrictJsonError(f'duplicate key "{key}"')
        document[key] = value
    return document


def load_strict(path):
    with open(path, encoding="utf-8") as file:
        text = file.read()
    return json.loads(text, parse_constant=reject_constant, object_pairs_hook=unique_keys)


def json_path(parts):
    return "/" + "/".join(str(part) for part in parts)


def main(argv):
    if len(argv) != 3:
        print("usage: validate_report.py SCHEMA REPORT", file=sys.stderr)
        return 1
    schema_path, report_path = argv[1], argv[2]
    try:
        import jsonschema
    except ImportError:
        print("validate_report.py: the python3 jsonschema module is missing "
              "(Debian: python3-jsonschema)", file=sys.stderr)
        return 1

    documents = []
    for path in (schema_path, report_path):
        try:
            documents.append(load_strict(path))
        except OSError as error:
            print(f"{path}: cannot read: {error.strerror}", file=sys.stderr)
            return 1
        except UnicodeDecodeError as error:
            print(f"{path}: not UTF-8: {error.reason}", file=sys.stderr)
            return 1
        except StrictJsonError as error:
            print(f"{path}: {error}", file=sys.stderr)
            return 1
        except json.JSONDecodeError as error:
            print(f"{path}: not valid JSON: {error.msg} at line {error.lineno}, "
                  f"column {error.colno}", file=sys.stderr)
            return 1
    schema, report = documents

    validator_class = jsonschema.Draft202012Validator
    try:
        validator_class.check_schema(schema)
    except jsonschema.exceptions.SchemaError as error:
        print(f"{schema_path}: not a valid draft 2020-12 schema: "
              f"{json_path(error.absolute_path)}: {error.message}", file=sys.stderr)
        return 1
    errors = list(validator_class(schema).iter_errors(report))
    if errors:
        error = jsonschema.exceptions.best_match(errors)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        message = " ".join(error.message.split())  # one line, whatever the value holds
        if len(message) > 300:
            message = message[:300] + "..."
        print(f"{report_path}: {json_path(error.absolute_path)}: {message}{more}",
              file=sys.stderr)
        return 1
    print(f"{report_path}: valid")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
