/** The accounts and tweets a fresh emulator database starts with. */

export interface SeedAccount {
  readonly id: string;
  readonly username: string;
  readonly name: string;
}

/** The account the default credentials belong to: the person tweeting over Relaynet. */
export const DEFAULT_USER: SeedAccount = {
  id: '1746000000000000001',
  username: 'relaynet_user',
  name: 'Relaynet User',
};

export interface SeedFollowedAccount extends SeedAccount {
  readonly tweets: readonly string[];
  /** Whether the user follows this account (its tweets then appear in the user's home timeline). */
  readonly followed: boolean;
}

export const SEED_ACCOUNTS: readonly SeedFollowedAccount[] = [
  {
    id: '1746000000000000002',
    username: 'awala_news',
    name: 'Awala News',
    followed: true,
    tweets: [
      'Couriers can now carry cargo for a whole village on one flashdrive.',
      'Reminder: parcels are end-to-end encrypted; gateways only see the envelope.',
    ],
  },
  {
    id: '1746000000000000003',
    username: 'courier_cat',
    name: 'Courier Cat',
    followed: true,
    tweets: ['Delivered 3 flashdrives today. Paws are tired.', 'Next stop: the river crossing 🚣'],
  },
  {
    id: '1746000000000000004',
    username: 'offline_chef',
    name: 'Offline Chef',
    followed: true,
    tweets: ['Recipe of the day: lentil soup & flatbread.', 'Tip: salt the water *after* it boils.'],
  },
  {
    id: '1746000000000000005',
    username: 'not_followed',
    name: 'Somebody Not Followed',
    followed: false,
    tweets: ['You should not see this in your home timeline.'],
  },
];
