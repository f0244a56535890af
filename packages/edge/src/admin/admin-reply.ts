export type AdminRequest = {
  method: string;
  query: URLSearchParams;
  body: unknown;
  /** Name of the token that authenticated the request ('anonymous' on open routes). */
  actor: string;
};
export type AdminResponse = { status: number; headers: Record<string, string>; body: string };

/** A refusal with a status and a message for the operator. */
export class AdminHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A JSON answer. */
export function json(status: number, value: unknown): AdminResponse {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: `${JSON.stringify(value)}\n`,
  };
}
