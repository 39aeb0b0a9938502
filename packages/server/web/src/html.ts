/**
 * Preact with htm's tagged templates (no JSX build step).
 */
import htm from "htm"
import { h } from "preact"

export const html = htm.bind(h)
