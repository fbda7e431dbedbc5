//! # Channels pallet (docs/pallets.md § Channels, runtime index 14)
//!
//! The direct path's payment channels. A requester prepays into a channel per executor
//! (`open_channel`, reserved in Tokens) and signs a hash-chained **ticket** per inference; the
//! executor streams at once and later settles a run of tickets in one extrinsic (`settle`), one
//! sr25519 signature per channel run: every ticket commits to its predecessor, so the signature on
//! the last one authorises the whole run. Settled results are sampled for validation with the
//! `Inference` rule (`direct/validate`, `direct/validator`) and paid with the same split; a sampled
//! result holds its cost in the channel until the drawn validator's verdict
//! (`submit_direct_validations`) or its deadline (paid in `on_initialize`).
//!
//! devnode (`devnode/pallets/channels.py`) is the reference for behaviour and is ported check by
//! check, event by event; where it orders two checks differently from the spec's prose, devnode's
//! order is kept (conformance is byte for byte): `SelfChannel` before `NotProvider` in
//! `open_channel`, `UnknownModel` before `BadModelIndex` in `settle`, and `settle` answers
//! `NotProvider` for an executor that is not a registered provider.
//!
//! Ticket signatures are checked against the requester's account id read as an sr25519 public key
//! (its SCALE encoding: 32 bytes for `AccountId32`); an account id that is not one never signs.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod weights;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{CloneNoBound, EqNoBound, PartialEqNoBound, RuntimeDebugNoBound};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_core::H256;
use sp_runtime::{Permill, RuntimeDebug};

pub use genai_primitives::ModelId;

/// A channel's id (sequential, `NextChannelId`).
pub type ChannelId = u64;
/// A settled result's id (sequential, `NextDirectId`): what a check and `GET /direct/{id}` name.
pub type DirectId = u64;

/// What the hash of every ticket starts with.
pub const TICKET_DOMAIN: &[u8] = b"genai-ticket";
/// What the requester's signature is over, before the ticket hash.
pub const SIGNATURE_DOMAIN: &[u8] = b"genai-ticket:";
/// What a channel's genesis head hashes, before the channel id.
pub const CHANNEL_DOMAIN: &[u8] = b"genai-channel";
/// Parts per million: `Permill`'s and the sampling rule's unit.
const PPM: u128 = 1_000_000;

/// A requester's channel to one executor: its deposit and ticket chain.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	RuntimeDebugNoBound,
	Encode,
	Decode,
	TypeInfo,
	MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct Channel<T: Config> {
	pub id: ChannelId,
	pub currency_id: CurrencyIdOf<T>,
	/// Reserved on the requester: all the channel still holds.
	pub deposit: BalanceOf<T>,
	/// Of `deposit`, the cost of settled results awaiting a validator.
	pub held: BalanceOf<T>,
	/// The last settled ticket's nonce (0: none yet).
	pub nonce: u64,
	/// The last settled ticket's hash (the genesis head before the first).
	pub head: H256,
	/// The sum of the settled tickets' `max_amount`.
	pub settled_cumulative: BalanceOf<T>,
	/// Set by `close_channel`: the block from which `withdraw` may run.
	pub closing_at: Option<BlockNumberFor<T>>,
}

/// A settled direct result sampled for validation, its cost held in the channel.
#[derive(
	CloneNoBound,
	PartialEqNoBound,
	EqNoBound,
	RuntimeDebugNoBound,
	Encode,
	Decode,
	TypeInfo,
	MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound())]
pub struct DirectCheck<T: Config> {
	pub requester: T::AccountId,
	pub executor: T::AccountId,
	pub validator: T::AccountId,
	pub model_id: ModelId,
	pub model_version: u32,
	pub author: T::AccountId,
	pub author_share: Permill,
	pub currency_id: CurrencyIdOf<T>,
	pub nonce: u64,
	pub ticket_hash: H256,
	pub prompt_hash: H256,
	pub output_hash: H256,
	pub max_tokens: u32,
	pub prompt_tokens: u32,
	pub completion_tokens: u32,
	pub cost: BalanceOf<T>,
	pub deadline: BlockNumberFor<T>,
}

/// One served ticket and its result, as the executor settles it (about 82 bytes).
#[derive(Clone, PartialEq, Eq, RuntimeDebug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct DirectResult<Balance, BlockNumber> {
	/// Index into the settlement's `models`.
	#[codec(compact)]
	pub model_index: u32,
	pub prompt_hash: H256,
	#[codec(compact)]
	pub max_tokens: u32,
	#[codec(compact)]
	pub max_price_per_1k_tokens: Balance,
	#[codec(compact)]
	pub max_amount: Balance,
	pub expiry: BlockNumber,
	pub output_hash: H256,
	#[codec(compact)]
	pub prompt_tokens: u32,
	#[codec(compact)]
	pub completion_tokens: u32,
}

/// A run of tickets of one channel (`requester` to the signed caller), from `first_nonce`, with
/// the requester's signature on the last one.
#[derive(Clone, PartialEq, Eq, RuntimeDebug, Encode, Decode, DecodeWithMemTracking, TypeInfo)]
pub struct ChannelSettlement<AccountId, Balance, BlockNumber> {
	pub requester: AccountId,
	#[codec(compact)]
	pub first_nonce: u64,
	/// The models the results name by index (at most `MaxModelsPerSettlement`: `TooManyModels`).
	pub models: Vec<ModelId>,
	pub results: Vec<DirectResult<Balance, BlockNumber>>,
	pub signature: [u8; 64],
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use codec::Compact;
	use frame_support::{
		pallet_prelude::*,
		storage::with_storage_layer,
		traits::{BalanceStatus, Randomness},
	};
	use frame_system::pallet_prelude::*;
	use genai_primitives::{protocol_random, ModelLookup, ModelTerms, ProviderRegistry};
	use orml_traits::{MultiCurrency, MultiReservableCurrency};
	use sp_runtime::{
		traits::{One, SaturatedConversion, Saturating, Zero},
		ArithmeticError,
	};

	pub type BalanceOf<T> =
		<<T as Config>::Currency as MultiCurrency<<T as frame_system::Config>::AccountId>>::Balance;
	pub type CurrencyIdOf<T> = <<T as Config>::Currency as MultiCurrency<
		<T as frame_system::Config>::AccountId,
	>>::CurrencyId;
	pub type ChannelOf<T> = Channel<T>;
	pub type DirectCheckOf<T> = DirectCheck<T>;
	pub type DirectResultOf<T> = DirectResult<BalanceOf<T>, BlockNumberFor<T>>;
	pub type ChannelSettlementOf<T> =
		ChannelSettlement<<T as frame_system::Config>::AccountId, BalanceOf<T>, BlockNumberFor<T>>;
	type ModelTermsOf<T> =
		ModelTerms<<T as frame_system::Config>::AccountId, BalanceOf<T>, CurrencyIdOf<T>>;

	/// What the benchmarks need from the runtime: a model served by providers, and ticket keys.
	#[cfg(feature = "runtime-benchmarks")]
	pub trait BenchmarkHelper<AccountId, CurrencyId> {
		/// Registers a model owned by `author` (price 1,000 per 1k tokens, in a currency `author`
		/// can be given issuance in) and every account of `providers` as an active provider of it
		/// at reputation 0 (stake funded here); returns the model and its currency.
		fn model_with_providers(
			author: &AccountId,
			providers: &[AccountId],
		) -> (ModelId, CurrencyId);
		/// The account whose sr25519 key signs tickets as requester number `index`.
		fn ticket_signer(index: u32) -> AccountId;
		/// Requester `index`'s sr25519 signature over `message`.
		fn sign_ticket(index: u32, message: &[u8]) -> [u8; 64];
	}

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// Deposits are reserved on the requester in one of its currencies.
		type Currency: MultiReservableCurrency<Self::AccountId>;
		/// The seed of the sampling draws (`random_seed().0`: the parent hash on a dev chain).
		type Randomness: Randomness<H256, BlockNumberFor<Self>>;
		/// ModelRegistry: a model's price, currency, author and share.
		type Models: ModelLookup<
			Self::AccountId,
			Balance = BalanceOf<Self>,
			CurrencyId = CurrencyIdOf<Self>,
		>;
		/// Providers: who may be an executor or a validator, reputation, weight, slashing.
		type Providers: ProviderRegistry<Self::AccountId, Balance = BalanceOf<Self>>;
		/// Longest a ticket may live, in blocks (100).
		#[pallet::constant]
		type MaxTicketLife: Get<BlockNumberFor<Self>>;
		/// Blocks an executor keeps to settle a ticket (5); checked by executors, not here.
		#[pallet::constant]
		type MinTicketMargin: Get<BlockNumberFor<Self>>;
		/// Blocks from `close_channel` to `withdraw` (150, > `MaxTicketLife`).
		#[pallet::constant]
		type CloseDelay: Get<BlockNumberFor<Self>>;
		/// Results per `settle` call (1024).
		#[pallet::constant]
		type MaxResultsPerSettle: Get<u32>;
		/// Models per channel settlement (16).
		#[pallet::constant]
		type MaxModelsPerSettlement: Get<u32>;
		/// Blocks the drawn validator has for its verdict (20, as `Inference`).
		type ValidationPeriod: Get<BlockNumberFor<Self>>;
		/// Checks whose deadline falls in one block (256).
		type MaxTimeoutsPerBlock: Get<u32>;
		/// Reputation a passed check adds (5, as `Inference`).
		type ReputationGain: Get<u8>;
		/// What a failed check slashes of the executor's stake (10 %, as `Inference`).
		type SlashFraction: Get<Permill>;
		type WeightInfo: WeightInfo;
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId, CurrencyIdOf<Self>>;
	}

	/// The id the next channel gets.
	#[pallet::storage]
	pub type NextChannelId<T: Config> = StorageValue<_, ChannelId, ValueQuery>;

	/// (requester, executor) -> the requester's prepaid channel to that executor.
	#[pallet::storage]
	pub type Channels<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		T::AccountId,
		ChannelOf<T>,
	>;

	/// The id the next settled result gets.
	#[pallet::storage]
	pub type NextDirectId<T: Config> = StorageValue<_, DirectId, ValueQuery>;

	/// Settled direct results sampled for validation, awaiting the verdict.
	#[pallet::storage]
	pub type DirectChecks<T: Config> = StorageMap<_, Twox64Concat, DirectId, DirectCheckOf<T>>;

	/// Checks whose validation period ends at the start of this block.
	#[pallet::storage]
	pub type CheckTimeouts<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<DirectId, T::MaxTimeoutsPerBlock>,
		ValueQuery,
	>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A channel was opened or topped up.
		ChannelFunded {
			requester: T::AccountId,
			executor: T::AccountId,
			channel_id: ChannelId,
			amount: BalanceOf<T>,
			deposit: BalanceOf<T>,
		},
		/// The requester asked to close; the deposit can be withdrawn from `closes_at`.
		ChannelClosing {
			requester: T::AccountId,
			executor: T::AccountId,
			closes_at: BlockNumberFor<T>,
		},
		/// The channel was closed and what was left returned to the requester.
		ChannelWithdrawn { requester: T::AccountId, executor: T::AccountId, amount: BalanceOf<T> },
		/// A direct result was settled against its ticket.
		DirectSettled {
			direct_id: u64,
			requester: T::AccountId,
			executor: T::AccountId,
			nonce: u64,
			model_id: ModelId,
			output_hash: H256,
			prompt_tokens: u32,
			completion_tokens: u32,
			cost: BalanceOf<T>,
		},
		/// A direct result was paid: author and executor shares.
		DirectPaid {
			direct_id: u64,
			author: T::AccountId,
			author_amount: BalanceOf<T>,
			executor_amount: BalanceOf<T>,
		},
		/// A settled direct result was sampled for validation.
		DirectValidationRequested {
			direct_id: u64,
			validator: T::AccountId,
			deadline: BlockNumberFor<T>,
		},
		/// The validator confirmed a direct result.
		DirectValidationPassed { direct_id: u64, validator: T::AccountId },
		/// The validator rejected a direct result: executor slashed, nothing paid.
		DirectValidationFailed { direct_id: u64, validator: T::AccountId, slashed: BalanceOf<T> },
		/// A ticket was settled after its expiry: not paid.
		TicketExpired { requester: T::AccountId, executor: T::AccountId, nonce: u64 },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The amount is zero.
		ZeroAmount,
		/// The executor is not an active provider.
		NotProvider,
		/// A channel to oneself.
		SelfChannel,
		/// The currency is not the channel's.
		CurrencyMismatch,
		/// The channel is closing.
		ChannelClosing,
		/// No such channel.
		NoChannel,
		/// The channel is already closing.
		AlreadyClosing,
		/// The channel is not closing.
		NotClosing,
		/// The close delay has not passed.
		StillClosing,
		/// Settled results of this channel still await validation.
		ChecksPending,
		/// Nothing to settle.
		EmptySettlement,
		/// More results than `MaxResultsPerSettle`.
		TooManyResults,
		/// The ticket was already settled.
		TicketReplayed,
		/// Tickets before this one were not settled yet.
		TicketGap,
		/// More models than `MaxModelsPerSettlement`.
		TooManyModels,
		/// A result names a model the settlement does not list.
		BadModelIndex,
		/// No model with this id.
		UnknownModel,
		/// The signed ticket has expired.
		TicketExpired,
		/// The requester did not sign this ticket chain.
		BadTicketSignature,
		/// A ticket expires further ahead than a gateway may sign.
		ExpiryTooFar,
		/// The model's price is above the ticket's maximum.
		PriceAboveMaximum,
		/// More completion tokens than the ticket's max_tokens.
		InvalidTokenCount,
		/// The channel does not cover the cost.
		InsufficientDeposit,
		/// No direct result awaits validation under this id.
		UnknownCheck,
		/// Only the drawn validator may do this.
		NotValidator,
		/// Too many validation deadlines fall in that block.
		TooManyTimeouts,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// Checks past their deadline are paid, without a reputation change.
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			let due = CheckTimeouts::<T>::get(now);
			if due.is_empty() {
				return T::WeightInfo::on_initialize(0);
			}
			CheckTimeouts::<T>::remove(now);
			let count = due.len() as u32;
			for direct_id in due {
				let Some(check) = DirectChecks::<T>::get(direct_id) else { continue };
				// A check whose payment fails stays (as devnode's transactional skip).
				let _ = with_storage_layer(|| Self::pay_check(direct_id, &check));
			}
			T::WeightInfo::on_initialize(count)
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Open a channel to `executor` with `amount` reserved, or top it up.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::open_channel())]
		pub fn open_channel(
			origin: OriginFor<T>,
			executor: T::AccountId,
			currency_id: CurrencyIdOf<T>,
			#[pallet::compact] amount: BalanceOf<T>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
			ensure!(executor != who, Error::<T>::SelfChannel);
			ensure!(
				T::Providers::provider(&executor).is_some_and(|info| info.active),
				Error::<T>::NotProvider
			);
			let mut channel = match Channels::<T>::get(&who, &executor) {
				None => {
					let id = NextChannelId::<T>::get();
					NextChannelId::<T>::put(id.checked_add(1).ok_or(ArithmeticError::Overflow)?);
					Channel {
						id,
						currency_id,
						deposit: Zero::zero(),
						held: Zero::zero(),
						nonce: 0,
						head: Self::channel_genesis(id),
						settled_cumulative: Zero::zero(),
						closing_at: None,
					}
				},
				Some(found) => {
					ensure!(found.currency_id == currency_id, Error::<T>::CurrencyMismatch);
					ensure!(found.closing_at.is_none(), Error::<T>::ChannelClosing);
					found
				},
			};
			T::Currency::reserve(currency_id, &who, amount)?;
			channel.deposit =
				channel.deposit.checked_add(&amount).ok_or(ArithmeticError::Overflow)?;
			let (channel_id, deposit) = (channel.id, channel.deposit);
			Channels::<T>::insert(&who, &executor, channel);
			Self::deposit_event(Event::ChannelFunded {
				requester: who,
				executor,
				channel_id,
				amount,
				deposit,
			});
			Ok(())
		}

		/// Start closing: the deposit can be withdrawn `CloseDelay` blocks from now.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::close_channel())]
		pub fn close_channel(origin: OriginFor<T>, executor: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut channel = Self::channel(&who, &executor)?;
			ensure!(channel.closing_at.is_none(), Error::<T>::AlreadyClosing);
			let closes_at =
				frame_system::Pallet::<T>::block_number().saturating_add(T::CloseDelay::get());
			channel.closing_at = Some(closes_at);
			Channels::<T>::insert(&who, &executor, channel);
			Self::deposit_event(Event::ChannelClosing { requester: who, executor, closes_at });
			Ok(())
		}

		/// After the close delay: return what is left and remove the channel.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::withdraw())]
		pub fn withdraw(origin: OriginFor<T>, executor: T::AccountId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let channel = Self::channel(&who, &executor)?;
			let closing_at = channel.closing_at.ok_or(Error::<T>::NotClosing)?;
			ensure!(
				frame_system::Pallet::<T>::block_number() >= closing_at,
				Error::<T>::StillClosing
			);
			ensure!(channel.held.is_zero(), Error::<T>::ChecksPending);
			let remaining = T::Currency::unreserve(channel.currency_id, &who, channel.deposit);
			let amount = channel.deposit.saturating_sub(remaining);
			Channels::<T>::remove(&who, &executor);
			Self::deposit_event(Event::ChannelWithdrawn { requester: who, executor, amount });
			Ok(())
		}

		/// The executor settles runs of tickets, one signature per channel run.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::settle(
			settlements.len().saturated_into(),
			settlements.iter().map(|s| s.results.len()).sum::<usize>().saturated_into(),
		))]
		pub fn settle(
			origin: OriginFor<T>,
			settlements: Vec<ChannelSettlementOf<T>>,
		) -> DispatchResult {
			let executor = ensure_signed(origin)?;
			ensure!(settlements.iter().any(|s| !s.results.is_empty()), Error::<T>::EmptySettlement);
			let results: usize = settlements.iter().map(|s| s.results.len()).sum();
			ensure!(results <= T::MaxResultsPerSettle::get() as usize, Error::<T>::TooManyResults);
			let reputation =
				T::Providers::provider(&executor).ok_or(Error::<T>::NotProvider)?.reputation;
			for settlement in &settlements {
				Self::settle_run(&executor, reputation, settlement)?;
			}
			Ok(())
		}

		/// The drawn validator's verdicts on sampled direct results, many at once.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::submit_direct_validations(verdicts.len().saturated_into()))]
		pub fn submit_direct_validations(
			origin: OriginFor<T>,
			verdicts: Vec<(Compact<DirectId>, bool)>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			for (Compact(direct_id), valid) in verdicts {
				let check = DirectChecks::<T>::get(direct_id).ok_or(Error::<T>::UnknownCheck)?;
				ensure!(check.validator == who, Error::<T>::NotValidator);
				if valid {
					Self::pay_check(direct_id, &check)?;
					if let Some(info) = T::Providers::provider(&check.executor) {
						T::Providers::set_reputation(
							&check.executor,
							info.reputation.saturating_add(T::ReputationGain::get()),
						);
					}
					Self::deposit_event(Event::DirectValidationPassed {
						direct_id,
						validator: who.clone(),
					});
					continue;
				}
				let slashed = match T::Providers::provider(&check.executor) {
					None => Zero::zero(),
					Some(info) => {
						let slashed = T::Providers::slash_stake(
							&check.executor,
							T::SlashFraction::get().mul_floor(info.stake),
						);
						T::Providers::set_reputation(&check.executor, 0);
						slashed
					},
				};
				Self::release(&check, false);
				DirectChecks::<T>::remove(direct_id);
				Self::deposit_event(Event::DirectValidationFailed {
					direct_id,
					validator: who.clone(),
					slashed,
				});
			}
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// The `head` of a fresh channel, what ticket 1 chains on:
		/// `blake2_256(b"genai-channel" ++ id as u64 LE)`.
		pub fn channel_genesis(channel_id: ChannelId) -> H256 {
			let mut data = Vec::with_capacity(CHANNEL_DOMAIN.len() + 8);
			data.extend_from_slice(CHANNEL_DOMAIN);
			data.extend_from_slice(&channel_id.to_le_bytes());
			H256(sp_io::hashing::blake2_256(&data))
		}

		/// Ticket `nonce`'s hash (docs/pallets.md § Channels, Tickets): it commits to `prev`, the
		/// channel, the executor, the model and the ticket's terms, and the running `cumulative`.
		pub fn ticket_hash(
			prev: &H256,
			channel_id: ChannelId,
			executor: &T::AccountId,
			model_id: &ModelId,
			ticket: &DirectResultOf<T>,
			cumulative: BalanceOf<T>,
			nonce: u64,
		) -> H256 {
			let mut data =
				Vec::with_capacity(TICKET_DOMAIN.len() + 32 * 4 + 8 + 4 + 16 * 3 + 8 + 4);
			data.extend_from_slice(TICKET_DOMAIN);
			data.extend_from_slice(prev.as_bytes());
			data.extend_from_slice(&channel_id.to_le_bytes());
			executor.encode_to(&mut data);
			data.extend_from_slice(model_id.as_bytes());
			data.extend_from_slice(ticket.prompt_hash.as_bytes());
			data.extend_from_slice(&ticket.max_tokens.to_le_bytes());
			data.extend_from_slice(
				&ticket.max_price_per_1k_tokens.saturated_into::<u128>().to_le_bytes(),
			);
			data.extend_from_slice(&ticket.max_amount.saturated_into::<u128>().to_le_bytes());
			data.extend_from_slice(&cumulative.saturated_into::<u128>().to_le_bytes());
			data.extend_from_slice(&nonce.to_le_bytes());
			data.extend_from_slice(&ticket.expiry.saturated_into::<u32>().to_le_bytes());
			H256(sp_io::hashing::blake2_256(&data))
		}

		/// What the requester signs for a ticket: `b"genai-ticket:" ++ hash`.
		pub fn ticket_message(hash: &H256) -> Vec<u8> {
			let mut message = SIGNATURE_DOMAIN.to_vec();
			message.extend_from_slice(hash.as_bytes());
			message
		}

		/// Whether `signature` is `signer`'s sr25519 signature over the ticket `hash`.
		pub fn verify_ticket(signer: &T::AccountId, hash: &H256, signature: &[u8; 64]) -> bool {
			let Ok(public) = sp_core::sr25519::Public::decode(&mut &signer.encode()[..]) else {
				return false;
			};
			let signature = sp_core::sr25519::Signature::from_raw(*signature);
			sp_io::crypto::sr25519_verify(&signature, &Self::ticket_message(hash), &public)
		}

		/// `min(max_amount, ceil(tokens * price / 1000))`: what a result costs.
		pub fn cost_of(tokens: u64, price: BalanceOf<T>, max_amount: BalanceOf<T>) -> BalanceOf<T> {
			let max = max_amount.saturated_into::<u128>();
			let cost = match u128::from(tokens).checked_mul(price.saturated_into::<u128>()) {
				// Above u128: above any `max_amount` too.
				None => max,
				Some(total) => max.min(total / 1000 + u128::from(total % 1000 != 0)),
			};
			cost.saturated_into()
		}

		fn channel(
			requester: &T::AccountId,
			executor: &T::AccountId,
		) -> Result<ChannelOf<T>, Error<T>> {
			Channels::<T>::get(requester, executor).ok_or(Error::<T>::NoChannel)
		}

		/// One channel's run of tickets: every check first, then each result paid or sampled.
		fn settle_run(
			executor: &T::AccountId,
			reputation: u8,
			settlement: &ChannelSettlementOf<T>,
		) -> DispatchResult {
			let requester = &settlement.requester;
			let results = &settlement.results;
			let Some(last) = results.last() else { return Ok(()) };
			let mut channel = Self::channel(requester, executor)?;
			let first = settlement.first_nonce;
			ensure!(first > channel.nonce, Error::<T>::TicketReplayed);
			ensure!(first <= channel.nonce.saturating_add(1), Error::<T>::TicketGap);
			let models = &settlement.models;
			ensure!(
				models.len() <= T::MaxModelsPerSettlement::get() as usize,
				Error::<T>::TooManyModels
			);
			let terms = models
				.iter()
				.map(|model_id| T::Models::model_terms(model_id).ok_or(Error::<T>::UnknownModel))
				.collect::<Result<Vec<ModelTermsOf<T>>, _>>()?;
			ensure!(
				results.iter().all(|r| (r.model_index as usize) < models.len()),
				Error::<T>::BadModelIndex
			);
			let now = frame_system::Pallet::<T>::block_number();
			ensure!(last.expiry >= now, Error::<T>::TicketExpired);
			// Recompute the chain; the signature on the last ticket authorises the run.
			let mut head = channel.head;
			let mut cumulative = channel.settled_cumulative;
			let mut hashes = Vec::with_capacity(results.len());
			for (offset, result) in results.iter().enumerate() {
				cumulative =
					cumulative.checked_add(&result.max_amount).ok_or(ArithmeticError::Overflow)?;
				let nonce = Self::nonce_at(first, offset)?;
				head = Self::ticket_hash(
					&head,
					channel.id,
					executor,
					&models[result.model_index as usize],
					result,
					cumulative,
					nonce,
				);
				hashes.push(head);
			}
			ensure!(
				Self::verify_ticket(requester, &head, &settlement.signature),
				Error::<T>::BadTicketSignature
			);
			let latest_expiry =
				now.saturating_add(T::MaxTicketLife::get()).saturating_add(T::CloseDelay::get());
			let (mut deposit, mut held) = (channel.deposit, channel.held);
			for (offset, result) in results.iter().enumerate() {
				let nonce = Self::nonce_at(first, offset)?;
				ensure!(result.expiry <= latest_expiry, Error::<T>::ExpiryTooFar);
				if result.expiry < now {
					Self::deposit_event(Event::TicketExpired {
						requester: requester.clone(),
						executor: executor.clone(),
						nonce,
					});
					continue;
				}
				let model_id = models[result.model_index as usize];
				let model = &terms[result.model_index as usize];
				let price = model.price_per_1k_tokens;
				ensure!(price <= result.max_price_per_1k_tokens, Error::<T>::PriceAboveMaximum);
				ensure!(
					result.completion_tokens <= result.max_tokens,
					Error::<T>::InvalidTokenCount
				);
				ensure!(model.currency_id == channel.currency_id, Error::<T>::CurrencyMismatch);
				let used = u64::from(result.prompt_tokens) + u64::from(result.completion_tokens);
				if used == 0 {
					continue; // a ticket the executor never served: nothing to pay or check
				}
				let cost = Self::cost_of(used, price, result.max_amount);
				ensure!(cost <= deposit.saturating_sub(held), Error::<T>::InsufficientDeposit);
				let direct_id = NextDirectId::<T>::get();
				NextDirectId::<T>::put(direct_id.checked_add(1).ok_or(ArithmeticError::Overflow)?);
				Self::deposit_event(Event::DirectSettled {
					direct_id,
					requester: requester.clone(),
					executor: executor.clone(),
					nonce,
					model_id,
					output_hash: result.output_hash,
					prompt_tokens: result.prompt_tokens,
					completion_tokens: result.completion_tokens,
					cost,
				});
				let Some(validator) =
					Self::draw_validator(direct_id, &model_id, executor, requester, reputation)
				else {
					Self::pay(
						direct_id,
						channel.currency_id,
						requester,
						&model.author,
						executor,
						model.author_share,
						cost,
					)?;
					deposit = deposit.saturating_sub(cost);
					continue;
				};
				let deadline = now.saturating_add(T::ValidationPeriod::get());
				held = held.saturating_add(cost);
				DirectChecks::<T>::insert(
					direct_id,
					DirectCheck {
						requester: requester.clone(),
						executor: executor.clone(),
						validator: validator.clone(),
						model_id,
						model_version: model.version,
						author: model.author.clone(),
						author_share: model.author_share,
						currency_id: channel.currency_id,
						nonce,
						ticket_hash: hashes[offset],
						prompt_hash: result.prompt_hash,
						output_hash: result.output_hash,
						max_tokens: result.max_tokens,
						prompt_tokens: result.prompt_tokens,
						completion_tokens: result.completion_tokens,
						cost,
						deadline,
					},
				);
				Self::schedule(deadline.saturating_add(One::one()), direct_id)?;
				Self::deposit_event(Event::DirectValidationRequested {
					direct_id,
					validator,
					deadline,
				});
			}
			channel.deposit = deposit;
			channel.held = held;
			channel.nonce = Self::nonce_at(first, results.len() - 1)?;
			channel.head = head;
			channel.settled_cumulative = cumulative;
			Channels::<T>::insert(requester, executor, channel);
			Ok(())
		}

		/// The nonce of the run's ticket at `offset`.
		fn nonce_at(first: u64, offset: usize) -> Result<u64, ArithmeticError> {
			u64::try_from(offset)
				.ok()
				.and_then(|offset| first.checked_add(offset))
				.ok_or(ArithmeticError::Overflow)
		}

		/// The `Inference` sampling rule over `direct/…` tags: validate iff `r("direct/validate")
		/// mod 10^6 < 10^6 - 9_900 * reputation`, and the validator by weight with
		/// `r("direct/validator")` among the model's other active providers; `None` when not
		/// sampled or nobody can validate.
		pub fn draw_validator(
			direct_id: DirectId,
			model_id: &ModelId,
			executor: &T::AccountId,
			requester: &T::AccountId,
			reputation: u8,
		) -> Option<T::AccountId> {
			let seed = T::Randomness::random_seed().0;
			let draw = protocol_random(b"direct/validate", &seed, direct_id) % PPM;
			if draw >= PPM.saturating_sub(9_900 * u128::from(reputation)) {
				return None;
			}
			let candidates: Vec<(T::AccountId, u128)> = T::Providers::providers_of(model_id)
				.into_iter()
				.filter(|who| who != executor && who != requester)
				.filter_map(|who| {
					let info = T::Providers::provider(&who)?;
					(info.active && info.weight > 0).then_some((who, info.weight))
				})
				.collect();
			let total =
				candidates.iter().fold(0u128, |sum, (_, weight)| sum.saturating_add(*weight));
			if total == 0 {
				return None;
			}
			let mut point = protocol_random(b"direct/validator", &seed, direct_id) % total;
			for (who, weight) in candidates {
				if point < weight {
					return Some(who);
				}
				point -= weight;
			}
			None
		}

		/// Pays `cost` out of the requester's reserve to the author and the executor
		/// (`DirectPaid`).
		fn pay(
			direct_id: DirectId,
			currency_id: CurrencyIdOf<T>,
			requester: &T::AccountId,
			author: &T::AccountId,
			executor: &T::AccountId,
			author_share: Permill,
			cost: BalanceOf<T>,
		) -> DispatchResult {
			let author_amount = author_share.mul_floor(cost);
			let executor_amount = cost.saturating_sub(author_amount);
			T::Currency::repatriate_reserved(
				currency_id,
				requester,
				author,
				author_amount,
				BalanceStatus::Free,
			)?;
			T::Currency::repatriate_reserved(
				currency_id,
				requester,
				executor,
				executor_amount,
				BalanceStatus::Free,
			)?;
			Self::deposit_event(Event::DirectPaid {
				direct_id,
				author: author.clone(),
				author_amount,
				executor_amount,
			});
			Ok(())
		}

		fn schedule(at: BlockNumberFor<T>, direct_id: DirectId) -> DispatchResult {
			CheckTimeouts::<T>::try_mutate(at, |due| {
				due.try_push(direct_id).map_err(|_| Error::<T>::TooManyTimeouts.into())
			})
		}

		/// A check ends: `held` falls by its cost; `deposit` too when the cost was paid.
		fn release(check: &DirectCheckOf<T>, paid: bool) {
			// The channel is always there: `withdraw` waits for `held == 0`.
			let Some(mut channel) = Channels::<T>::get(&check.requester, &check.executor) else {
				return;
			};
			channel.held = channel.held.saturating_sub(check.cost);
			if paid {
				channel.deposit = channel.deposit.saturating_sub(check.cost);
			}
			Channels::<T>::insert(&check.requester, &check.executor, channel);
		}

		/// A check is paid (passed, or past its deadline) and removed.
		fn pay_check(direct_id: DirectId, check: &DirectCheckOf<T>) -> DispatchResult {
			Self::pay(
				direct_id,
				check.currency_id,
				&check.requester,
				&check.author,
				&check.executor,
				check.author_share,
				check.cost,
			)?;
			Self::release(check, true);
			DirectChecks::<T>::remove(direct_id);
			Ok(())
		}
	}
}
