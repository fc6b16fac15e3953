#!/usr/bin/env bash
# Runs the whole test suite under Deno, Bun and Node, then prints one closing
# line `tests: N passed, N failed`. Exits non-zero when anything failed or
# when a runner ran no test at all.
set -u
cd "$(dirname "$0")/.."
export NO_COLOR=1 RUST_BACKTRACE=0
DENO=./node_modules/.bin/deno
BUN=./node_modules/.bin/bun
files=(tests/*.test.ts)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# tests/browser.test.ts drives Debian's Chromium and fails (it does not skip)
# without it: install it when we can (root with apt-get).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "== installing chromium for tests/browser.test.ts (apt-get install -y chromium)"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >"$work/apt.log" 2>&1; then
    echo "== chromium install failed (tests/browser.test.ts will fail):"
    tail -n 5 "$work/apt.log"
  fi
fi

passed=0
failed=0
status=0

count() { # runner pass fail exit-code
  echo "== $1: $2 passed, $3 failed (exit $4)"
  passed=$((passed + $2))
  failed=$((failed + $3))
  if [ "$4" -ne 0 ] || [ "$2" -eq 0 ]; then status=1; fi
  if [ "$4" -ne 0 ] && [ "$3" -eq 0 ]; then failed=$((failed + 1)); fi
}

echo "== deno test (${#files[@]} files, and the @example blocks of every entrypoint)"
"$DENO" test -A --junit-path="$work/deno.xml" "${files[@]}" 2>&1 | tee "$work/deno.log"
code=${PIPESTATUS[0]}
read -r pass fail < <(node tests/junit_count.mjs "$work/deno.xml")
count deno "$pass" "$fail" "$code"

entrypoints=$(node -e 'const c=JSON.parse(require("fs").readFileSync("deno.json","utf8"));console.log(Object.values(c.exports).join(" "))')
doc_files=$(grep -rl --include='*.ts' '@example' $(for e in $entrypoints; do dirname "$e"; done | sort -u | grep -v '^\.$') mod.ts cli.ts | sort -u)
"$DENO" test -A --doc --junit-path="$work/doc.xml" $doc_files 2>&1 | tail -n 5 | tee "$work/doc.log"
code=${PIPESTATUS[0]}
read -r pass fail < <(node tests/junit_count.mjs "$work/doc.xml")
count "deno test --doc" "$pass" "$fail" "$code"

echo "== bun test"
"$BUN" test $(printf './%s ' "${files[@]}") 2>&1 | tee "$work/bun.log"
code=${PIPESTATUS[0]}
pass=$(grep -Eo '^ *[0-9]+ pass' "$work/bun.log" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
fail=$(grep -Eo '^ *[0-9]+ fail' "$work/bun.log" | tail -n 1 | grep -Eo '[0-9]+' || echo 0)
count bun "${pass:-0}" "${fail:-0}" "$code"

echo "== node --test ($(node --version), TypeScript through tsx)"
node --import tsx --test --test-reporter=tap "${files[@]}" > "$work/node.log" 2>&1
code=$?
grep -E '^(not ok|# (tests|pass|fail))' "$work/node.log"
if [ "$code" -ne 0 ]; then tail -n 60 "$work/node.log"; fi
pass=$(grep -Eo '^# pass [0-9]+' "$work/node.log" | grep -Eo '[0-9]+' || echo 0)
fail=$(grep -Eo '^# fail [0-9]+' "$work/node.log" | grep -Eo '[0-9]+' || echo 0)
count node "${pass:-0}" "${fail:-0}" "$code"

echo "tests: $passed passed, $failed failed"
exit $status
