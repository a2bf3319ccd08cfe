import type { Deps } from '../services/deps.ts';
import type { AuthContext, Authenticator } from './auth.ts';

export interface ServerDeps extends Deps {
  authenticate: Authenticator;
}

export interface RouteOptions {
  deps: ServerDeps;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every route under the authenticated /v1 scope. */
    auth: AuthContext;
  }
}
