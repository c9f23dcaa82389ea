//! Docker Engine API types shared by `berthd` (server) and `berth` (client).
