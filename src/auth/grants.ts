/**
 * What an app may call. A grant names one API (`api:<name>`), every API of a
 * group (`group:<group>`), or a capability (`flows`: flow management).
 */
export const GRANT_PATTERN = /^(?:(?:api|group):[A-Za-z0-9_-]{1,64}|flows)$/;

/** The grant that lets an app manage flows (DataFlow), given to the bootstrap app. */
export const FLOWS_GRANT = 'flows';

export function apiGrant(apiName: string): string {
  return `api:${apiName}`;
}

export function isGranted(grants: readonly string[], api: { name: string; group: string }): boolean {
  return grants.includes(`api:${api.name}`) || grants.includes(`group:${api.group}`);
}
