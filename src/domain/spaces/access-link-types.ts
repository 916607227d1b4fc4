import type { SubjectTokens } from "../auth/subject-tokens.js";
import type { Revocation } from "../tokens/revocations.js";
import type { SpacesDeps } from "./deps.js";
import type { SpaceManager } from "./rules.js";
import type { AccessLinkRecord } from "./store.js";

/** Seed 001 generateAccess, as the caller sends it. */
export interface AccessRequest {
  /** The room's space, "" for a room without one. */
  readonly spaceId: string;
  readonly roomId: string;
  readonly username: string;
  readonly role: string;
  readonly externalUserId: string;
  /** 0 means the default (24 h). */
  readonly ttlSeconds: number;
  readonly isPermanent: boolean;
}

/** A generated access link. */
export interface GeneratedAccess {
  /** `${publicUrl}/join/<room>?participantName=…&accessToken=…` */
  readonly link: string;
  readonly participantName: string;
  /** The access-link token (redeemed with room.access.v1 Redeem). */
  readonly accessToken: string;
  readonly expiresAt: number;
  /** The link's id (ListAccessLinks, RevokeAccessLink). */
  readonly linkId: string;
}

/** What redeeming a link gives: a user access token for the link's room. */
export interface Redemption {
  readonly accessToken: string;
  readonly userId: string;
  readonly roomId: string;
  readonly participantName: string;
  readonly expiresAt: number;
}

/** Settings of access links (see ./access-links.ts). */
export interface AccessLinkOptions {
  /** Base URL the links point at, without a trailing slash. */
  readonly publicUrl: string;
  /** Longest link lifetime accepted. */
  readonly maxTtlSeconds: number;
}

/** What access links work with beyond {@link SpacesDeps}; all required. */
export interface AccessLinksDeps extends SpacesDeps {
  readonly linkTokens: SubjectTokens;
  readonly userTokens: SubjectTokens;
  readonly options: AccessLinkOptions;
  /** Where a revoked link's guest revocation is stored (the revocations table). */
  readonly revocationStore: { addRevocation(r: Revocation, expiresAt: number | null): void };
}

/** Who manages a room's links: an end user (judged in the room) or the tenant's API key. */
export type LinkManager = SpaceManager;

/** A room and a page position, as List asks for them. */
export interface LinkListRequest {
  readonly spaceId: string;
  readonly roomId: string;
  readonly pageSize: number;
  readonly pageToken: string;
}

/** One page of links. */
export interface LinkPage {
  readonly links: AccessLinkRecord[];
  readonly nextPageToken: string;
}
