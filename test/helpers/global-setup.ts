// Placeholder until the foundation lands: starts nothing.
export default async function setup(): Promise<void> {}
