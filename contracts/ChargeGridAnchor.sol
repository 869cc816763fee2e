// SPDX-License-Identifier: Apache-2.0
// ChargeGridAnchor: fixes a ChargeGrid verifiable log's history on an Ethereum-compatible chain.
// The server that owns the contract calls anchor() with each signed checkpoint's root hash and
// tree size; anyone can read the Anchored events and check that a later checkpoint of the log
// is consistent with every anchored one (docs/settlement.md, "Choosing a chain and a key").
pragma solidity ^0.8.0;

contract ChargeGridAnchor {
    /// A checkpoint of the log named `origin`: the Merkle root of its first `size` entries.
    event Anchored(bytes32 root, uint64 size, string origin);

    /// The account that deployed the contract; only it may anchor.
    address public immutable owner;

    constructor() {
        owner = msg.sender;
    }

    function anchor(bytes32 root, uint64 size, string calldata origin) external {
        require(msg.sender == owner, "only the owner anchors");
        emit Anchored(root, size, origin);
    }
}
