// The benchmark's accounts: the runner provisions them on every server, the load generator
// logs in with them. Names and passwords follow from the index alone.

export interface BenchAccount {
  username: string;
  password: string;
}

export function benchAccount(index: number): BenchAccount {
  return { username: `u${index}`, password: `pw-${index}-bench` };
}
