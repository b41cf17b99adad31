import { Metadata, type ServiceError } from '@grpc/grpc-js';

/** A generated client's unary method, as the control API tests call it. */
export type Unary<Req, Res> = (req: Req, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** A unary call as a promise, with a deadline so a hung server fails the test instead of the timeout. */
export function call<Req, Res>(method: Unary<Req, Res>, request: Req): Promise<Res> {
  return new Promise((resolve, reject) => method(request, new Metadata(), { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res))));
}

/** The error status of a call expected to fail. */
export async function callError<Req, Res>(method: Unary<Req, Res>, request: Req): Promise<ServiceError> {
  try {
    await call(method, request);
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('the call succeeded; expected an error status');
}
