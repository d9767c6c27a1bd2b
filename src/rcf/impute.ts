import { NIL, type Tree, type Workspace } from './tree.js';

/**
 * Finds, in one tree, a stored point that is typical given the known
 * coordinates of `q`: descend by the query's cuts, and where a cut is on a
 * missing dimension (whose value we do not trust) follow the heavier child,
 * i.e. the region holding more of the sample. Returns the leaf's point index,
 * or -1 for an empty tree.
 *
 * This is a simplification of the reference's conditional-field imputation
 * (which explores both children and keeps the lower-scoring completion): it is
 * one descent per tree and the forest takes a median over trees.
 */
export function imputeLeafPoint(tree: Tree, q: Float32Array, missing: Uint8Array, _ws: Workspace): number {
  let node = tree.root;
  if (node === NIL) return -1;
  const leafBase = tree.leafBase;
  while (node < leafBase) {
    const dim = tree.cutDimOf(node);
    if (missing[dim] === 1) {
      const l = tree.leftOf(node);
      const r = tree.rightOf(node);
      node = tree.massOf(l) >= tree.massOf(r) ? l : r;
    } else {
      node = tree.childOf(node, q, 0);
    }
  }
  return tree.leafPoint[node - leafBase]!;
}
