// Counts the leaf test cases of a Deno JUnit report (a `describe` is reported
// as a test case of its own, and its `it`s as steps named "describe > it"):
// prints "<passed> <failed>".
import { readFileSync } from "node:fs";

let xml = "";
try {
  xml = readFileSync(process.argv[2], "utf8");
} catch {
  console.log("0 0");
  process.exit(0);
}
const cases = [
  ...xml.matchAll(/<testcase name="([^"]*)"[^>]*>([\s\S]*?)<\/testcase>/g),
]
  .map((match) => ({
    name: match[1],
    failed: /<failure|<error/.test(match[2]),
  }));
const names = cases.map((test) => test.name);
const leaves = cases.filter((test) =>
  !names.some((other) => other.startsWith(`${test.name} &gt; `))
);
const failed = leaves.filter((test) => test.failed).length;
console.log(`${leaves.length - failed} ${failed}`);
