// Compiles ChargeGridAnchor.sol with solc-js (npm solc, installed in tests/ledger_adapters) and
// writes ChargeGridAnchor.json (ABI and bytecode) and the server's copy of the bytecode.
//   node contracts/compile.mjs           write both files
//   node contracts/compile.mjs --check   exit 1 when the committed files differ from solc's output
import { createRequire } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../tests/ledger_adapters/package.json"));
const solc = require("solc");

const source = readFileSync(join(here, "ChargeGridAnchor.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "ChargeGridAnchor.sol": { content: source } },
  settings: {
    // Paris: no PUSH0, so the bytecode runs on chains that have not adopted Shanghai.
    evmVersion: "paris",
    optimizer: { enabled: true, runs: 200 },
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of output.errors ?? []) {
  if (e.severity === "error") {
    console.error(e.formattedMessage);
    process.exit(2);
  }
}
const contract = output.contracts["ChargeGridAnchor.sol"].ChargeGridAnchor;
const artifact = {
  contractName: "ChargeGridAnchor",
  compiler: `solc ${solc.version()}`,
  settings: { evmVersion: "paris", optimizer: { enabled: true, runs: 200 } },
  abi: contract.abi,
  bytecode: "0x" + contract.evm.bytecode.object,
};
const json = JSON.stringify(artifact, null, 2) + "\n";
const header = `#pragma once
// The ChargeGridAnchor contract's creation bytecode: contracts/ChargeGridAnchor.sol compiled
// by contracts/compile.mjs (its ABI is in contracts/ChargeGridAnchor.json).
// Generated: do not edit; tests/ledger_adapters checks it against the compiler's output.

namespace chargegrid::server::ledger_adapters {

inline constexpr const char* kAnchorContractBytecode =
${artifact.bytecode.match(/.{1,90}/g).map((s) => `    "${s}"`).join("\n")};

}  // namespace chargegrid::server::ledger_adapters
`;
const jsonPath = join(here, "ChargeGridAnchor.json");
const headerPath = join(here, "../server/src/ledger_adapters/anchor_contract.hpp");
if (process.argv.includes("--check")) {
  const same = readFileSync(jsonPath, "utf8") === json && readFileSync(headerPath, "utf8") === header;
  console.log(same ? "the committed bytecode is solc's" : "the committed bytecode differs from solc's");
  process.exit(same ? 0 : 1);
}
writeFileSync(jsonPath, json);
writeFileSync(headerPath, header);
console.log(`wrote ${jsonPath} and ${headerPath}`);
