// Parsers for numeric flags; a bad value is a usage error (exit 2) that names what was expected.
import { InvalidArgumentError } from 'commander';

function numberParser(check: (value: number) => boolean, expected: string): (text: string) => number {
  return (text: string) => {
    const value = Number(text);
    if (text.trim() === '' || !check(value)) throw new InvalidArgumentError(`expected ${expected}, got "${text}"`);
    return value;
  };
}

export const parseWholeNumber = numberParser((value) => Number.isInteger(value) && value >= 0, 'a whole number >= 0');
export const parsePositiveWholeNumber = numberParser((value) => Number.isInteger(value) && value >= 1, 'a whole number >= 1');
export const parseAmount = numberParser((value) => Number.isFinite(value) && value >= 0, 'a number >= 0');
