import { BeatError, ErrorCode } from '../base/errors.js';

/**
 * The BeatError for RabbitMQ refusing a connection itself, or undefined. RabbitMQ answers a vhost
 * that does not exist (or that the user may not use) with a ConnectionClose in place of
 * ConnectionOpenOk, which amqplib reports without the broker's text: the vhost comes from the URL.
 */
export function amqpRefusal(
  error: unknown,
  endpoint: { readonly display: string; readonly vhost: string; readonly username: string },
): BeatError | undefined {
  if (!(error instanceof Error)) return undefined;
  const at = `RabbitMQ at ${endpoint.display}`;
  if (
    /Expected ConnectionOpenOk; got <ConnectionClose/.test(error.message) ||
    /NOT_ALLOWED - (vhost|access to vhost)/.test(error.message)
  ) {
    const v = endpoint.vhost;
    return new BeatError(
      ErrorCode.BrokerRefused,
      `${at} refused to open virtual host "${v}" (${error.message}): it does not exist, or user "${endpoint.username}" may not use it. Create it and grant access (rabbitmqctl add_vhost '${v}'; rabbitmqctl set_permissions -p '${v}' '${endpoint.username}' '.*' '.*' '.*'), or correct the vhost in the URL's path (// is the default vhost "/")`,
      { cause: error },
    );
  }
  if (/ACCESS.REFUSED/.test(error.message)) {
    return new BeatError(
      ErrorCode.BrokerRefused,
      `${at} refused the login of user "${endpoint.username}" (${error.message}): correct the credentials in the URL, or the user on the broker`,
      { cause: error },
    );
  }
  return undefined;
}
