// Laid-out SVG texts by URL, shared by every explorer on the page (the diff's two panes too):
// states already seen render without a request.
import { fetchSvg } from "./api.js";

/** A small LRU of laid-out SVG texts by URL: states already seen render without a request. */
const SVG_CACHE = new Map();
const SVG_CACHE_MAX = 96;
export async function cachedSvg(url) {
  if (SVG_CACHE.has(url)) {
    const hit = SVG_CACHE.get(url);
    SVG_CACHE.delete(url);
    SVG_CACHE.set(url, hit);
    return hit;
  }
  const pending = fetchSvg(url);
  SVG_CACHE.set(url, pending);
  try {
    const text = await pending;
    SVG_CACHE.set(url, text);
    while (SVG_CACHE.size > SVG_CACHE_MAX) SVG_CACHE.delete(SVG_CACHE.keys().next().value);
    return text;
  } catch (e) {
    SVG_CACHE.delete(url);
    throw e;
  }
}

/** Is `url` laid out already (true), being fetched or laid out (a pending entry counts), or not? */
export function svgKnown(url) { return SVG_CACHE.has(url); }

/** Is `url`'s text here, ready to render without waiting? */
export function svgReady(url) { return typeof SVG_CACHE.get(url) === "string"; }
