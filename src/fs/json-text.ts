// Text that should be JSON, read without throwing: a record half written or damaged is told apart by its caller.

/** The parsed value, or undefined when the text is not JSON. */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
