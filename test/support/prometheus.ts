/** One sample of a Prometheus text exposition: `name{label="value",…} 1`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of a scrape, as Prometheus reads them (comments skipped); throws on a line it could not read. */
export function parseSamples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = SAMPLE.exec(line);
      if (!match) throw new Error(`not a Prometheus sample: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(LABEL)].map(([, name, value]) => [name, value]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/**
 * The value of the one sample named `name` with exactly `labels`; undefined when there is none.
 * Exactly: a sample with a label more (a `le`) is another series.
 */
export function sampleValue(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels);
  const found = samples.filter(
    (sample) =>
      sample.name === name &&
      Object.keys(sample.labels).length === wanted.length &&
      wanted.every(([label, value]) => sample.labels[label] === value),
  );
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} names ${found.length} series`);
  return found[0]?.value;
}

/** Every series of `name`, as `{labels…}: value`, for an exact comparison of a whole family. */
export function family(samples: readonly Sample[], name: string): Record<string, number> {
  return Object.fromEntries(
    samples
      .filter((sample) => sample.name === name)
      .map((sample) => [
        Object.entries(sample.labels)
          .map(([label, value]) => `${label}=${value}`)
          .join(','),
        sample.value,
      ]),
  );
}
