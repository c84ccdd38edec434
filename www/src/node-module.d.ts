// The one Node API node.ts uses, declared here rather than pulling in @types/node.
declare module 'node:module' {
  export function createRequire(path: string | URL): (id: string) => unknown;
}
