//! # Providers pallet (docs/pallets.md, runtime index 12)
//!
//! Staked compute providers: each reserves a stake in `StakeCurrencyId`, announces an endpoint,
//! the models it serves, its capacity (requests in flight) and optionally the X25519 key sealed
//! payloads are sealed to. Its weight, `(stake / WeightStakeUnit) * (10 + reputation)`, decides
//! how much work it is assigned; `TotalWeight` sums the weights of the active providers and is
//! kept in step with every stake, reputation or status change (all of them go through
//! `Pallet::store`). `ModelProviders` lists the active providers of each model in registration
//! order; an empty list is removed.
//!
//! Inference and Channels see this pallet through [`genai_primitives::ProviderRegistry`]
//! (in-flight slots, reputation, slashing). devnode (`devnode/pallets/providers.py`) is the
//! reference for behaviour: the same checks in the same order, the same events, the same writes.

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

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{BoundedVec, CloneNoBound, EqNoBound, PartialEqNoBound, RuntimeDebugNoBound};
use frame_system::pallet_prelude::BlockNumberFor;
use scale_info::TypeInfo;
use sp_runtime::RuntimeDebug;

pub use genai_primitives::ModelId;

/// Highest reputation (the validation probability is 1 % there).
pub const MAX_REPUTATION: u8 = 100;

/// Whether a provider takes work.
#[derive(
	Clone,
	Copy,
	Encode,
	Decode,
	DecodeWithMemTracking,
	Eq,
	PartialEq,
	RuntimeDebug,
	TypeInfo,
	MaxEncodedLen,
)]
pub enum ProviderStatus<BlockNumber> {
	/// Taking work.
	Active,
	/// Unregistered; the stake can be withdrawn from `unlock_at`.
	Unbonding { unlock_at: BlockNumber },
}

/// A provider as `Providers` holds it (the spec's field order).
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
pub struct ProviderInfo<T: Config> {
	pub stake: BalanceOf<T>,
	pub endpoint: BoundedVec<u8, T::MaxEndpointLength>,
	pub models: BoundedVec<ModelId, T::MaxModelsPerProvider>,
	pub capacity: u32,
	pub in_flight: u32,
	pub reputation: u8,
	/// `(stake / WeightStakeUnit) * (10 + reputation)`, recomputed on every write.
	pub weight: u128,
	pub status: ProviderStatus<BlockNumberFor<T>>,
	pub registered_at: BlockNumberFor<T>,
	/// The provider's X25519 public key; `None`: plaintext requests only.
	pub encryption_key: Option<[u8; 32]>,
}

impl<T: Config> ProviderInfo<T> {
	pub fn is_active(&self) -> bool {
		matches!(self.status, ProviderStatus::Active)
	}
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;
	use genai_primitives::ModelLookup;
	use orml_traits::{MultiCurrency, MultiReservableCurrency};
	use sp_runtime::traits::{Saturating, StaticLookup, UniqueSaturatedInto, Zero};

	pub type BalanceOf<T> =
		<<T as Config>::Currency as MultiCurrency<<T as frame_system::Config>::AccountId>>::Balance;
	pub type CurrencyIdOf<T> = <<T as Config>::Currency as MultiCurrency<
		<T as frame_system::Config>::AccountId,
	>>::CurrencyId;
	pub type ProviderInfoOf<T> = ProviderInfo<T>;
	pub type EndpointOf<T> = BoundedVec<u8, <T as Config>::MaxEndpointLength>;
	pub type ModelsOf<T> = BoundedVec<ModelId, <T as Config>::MaxModelsPerProvider>;
	pub type ModelProvidersOf<T> =
		BoundedVec<<T as frame_system::Config>::AccountId, <T as Config>::MaxProvidersPerModel>;
	type AccountIdLookupOf<T> = <<T as frame_system::Config>::Lookup as StaticLookup>::Source;

	/// What the benchmarks need from the runtime: registered models (the pallet only reads
	/// them through `ModelLookup`).
	#[cfg(feature = "runtime-benchmarks")]
	pub trait BenchmarkHelper<AccountId> {
		/// Registers a model, a different one for every `index`, and returns its id.
		fn register_model(index: u32) -> ModelId;
	}

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// Stakes are reserved in its `StakeCurrencyId`.
		type Currency: MultiReservableCurrency<Self::AccountId>;
		/// The registered models (ModelRegistry); a deprecated model can still be served.
		type Models: ModelLookup<Self::AccountId>;
		/// Currency of stakes (1).
		#[pallet::constant]
		type StakeCurrencyId: Get<CurrencyIdOf<Self>>;
		/// Smallest stake accepted (100 * 10^12).
		#[pallet::constant]
		type MinStake: Get<BalanceOf<Self>>;
		/// Stake per weight unit (10^12).
		#[pallet::constant]
		type WeightStakeUnit: Get<BalanceOf<Self>>;
		/// Blocks before an unregistered provider's stake unlocks (10).
		#[pallet::constant]
		type UnbondingPeriod: Get<BlockNumberFor<Self>>;
		/// Longest endpoint URL, in bytes (256).
		#[pallet::constant]
		type MaxEndpointLength: Get<u32>;
		/// Models per provider (16).
		#[pallet::constant]
		type MaxModelsPerProvider: Get<u32>;
		/// Providers per model (64).
		#[pallet::constant]
		type MaxProvidersPerModel: Get<u32>;
		/// Largest capacity, in requests in flight (1024).
		#[pallet::constant]
		type MaxCapacity: Get<u32>;
		/// Reputation of a newcomer (0).
		#[pallet::constant]
		type InitialReputation: Get<u8>;
		type WeightInfo: WeightInfo;
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// Registered compute providers.
	#[pallet::storage]
	pub type Providers<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, ProviderInfoOf<T>>;

	/// Active providers serving each model, in registration order.
	#[pallet::storage]
	pub type ModelProviders<T: Config> =
		StorageMap<_, Blake2_128Concat, ModelId, ModelProvidersOf<T>, ValueQuery>;

	/// Sum of the weights of active providers.
	#[pallet::storage]
	pub type TotalWeight<T: Config> = StorageValue<_, u128, ValueQuery>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A provider registered and reserved its stake.
		ProviderRegistered { provider: T::AccountId, stake: BalanceOf<T>, capacity: u32 },
		/// A provider changed endpoint, models or capacity.
		ProviderUpdated { provider: T::AccountId },
		/// A provider stopped taking work; its stake unlocks at `unlock_at`.
		ProviderUnbonding { provider: T::AccountId, unlock_at: BlockNumberFor<T> },
		/// A provider left and its stake was unreserved.
		ProviderUnregistered { provider: T::AccountId, stake: BalanceOf<T> },
		/// A provider's reputation changed.
		ReputationChanged { provider: T::AccountId, old: u8, new: u8 },
		/// Part of a provider's stake was slashed.
		StakeSlashed { provider: T::AccountId, amount: BalanceOf<T> },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The account is already a provider.
		AlreadyRegistered,
		/// The account is not a provider.
		NotRegistered,
		/// The stake is below `MinStake`.
		InsufficientStake,
		/// The endpoint is empty.
		EmptyEndpoint,
		/// The endpoint is longer than `MaxEndpointLength`.
		EndpointTooLong,
		/// A provider must serve at least one model.
		NoModels,
		/// More than `MaxModelsPerProvider` models.
		TooManyModels,
		/// A model is listed twice.
		DuplicateModel,
		/// A listed model is not registered.
		UnknownModel,
		/// A model already has `MaxProvidersPerModel` providers.
		ModelFull,
		/// Capacity must be between 1 and `MaxCapacity`.
		InvalidCapacity,
		/// The provider is unbonding.
		NotActive,
		/// The provider has not called `unregister`.
		NotUnbonding,
		/// The unbonding period has not ended.
		StillUnbonding,
		/// The provider still has requests in flight.
		RequestsInFlight,
		/// Reputation is at most 100.
		InvalidReputation,
		/// The all-zero X25519 key seals to nobody.
		InvalidEncryptionKey,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Become a compute provider: reserve `stake`, announce endpoint, models, capacity and
		/// the X25519 key sealed payloads are sealed to.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_provider(count(models)))]
		pub fn register_provider(
			origin: OriginFor<T>,
			#[pallet::compact] stake: BalanceOf<T>,
			endpoint: Vec<u8>,
			models: Vec<ModelId>,
			capacity: u32,
			encryption_key: Option<[u8; 32]>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!Providers::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
			ensure!(stake >= T::MinStake::get(), Error::<T>::InsufficientStake);
			let (endpoint, models) = Self::check_profile(endpoint, models, capacity)?;
			T::Currency::reserve(T::StakeCurrencyId::get(), &who, stake)?;
			Self::list_on_models(&who, &models)?;
			let info = ProviderInfo {
				stake,
				endpoint,
				models,
				capacity,
				in_flight: 0,
				reputation: T::InitialReputation::get(),
				weight: 0,
				status: ProviderStatus::Active,
				registered_at: frame_system::Pallet::<T>::block_number(),
				encryption_key: Self::check_key(encryption_key)?,
			};
			Self::store(&who, info);
			Self::deposit_event(Event::ProviderRegistered { provider: who, stake, capacity });
			Ok(())
		}

		/// Replace endpoint, served models, capacity and encryption key (key rotation).
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::update_provider(count(models)))]
		pub fn update_provider(
			origin: OriginFor<T>,
			endpoint: Vec<u8>,
			models: Vec<ModelId>,
			capacity: u32,
			encryption_key: Option<[u8; 32]>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut info = Self::active(&who)?;
			let (endpoint, models) = Self::check_profile(endpoint, models, capacity)?;
			let key = Self::check_key(encryption_key)?;
			let dropped: Vec<ModelId> =
				info.models.iter().filter(|m| !models.contains(m)).copied().collect();
			Self::unlist_from_models(&who, &dropped);
			Self::list_on_models(&who, &models)?;
			info.encryption_key = key;
			info.endpoint = endpoint;
			info.models = models;
			info.capacity = capacity;
			Self::store(&who, info);
			Self::deposit_event(Event::ProviderUpdated { provider: who });
			Ok(())
		}

		/// Stop taking work; the stake can be withdrawn after `UnbondingPeriod` blocks.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::unregister())]
		pub fn unregister(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut info = Self::active(&who)?;
			Self::unlist_from_models(&who, &info.models);
			let unlock_at =
				frame_system::Pallet::<T>::block_number().saturating_add(T::UnbondingPeriod::get());
			info.status = ProviderStatus::Unbonding { unlock_at };
			Self::store(&who, info);
			Self::deposit_event(Event::ProviderUnbonding { provider: who, unlock_at });
			Ok(())
		}

		/// After unbonding, unreserve the remaining stake and delete the provider.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::withdraw_unbonded())]
		pub fn withdraw_unbonded(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let info = Self::registered(&who)?;
			let ProviderStatus::Unbonding { unlock_at } = info.status else {
				return Err(Error::<T>::NotUnbonding.into());
			};
			ensure!(
				frame_system::Pallet::<T>::block_number() >= unlock_at,
				Error::<T>::StillUnbonding
			);
			ensure!(info.in_flight == 0, Error::<T>::RequestsInFlight);
			T::Currency::unreserve(T::StakeCurrencyId::get(), &who, info.stake);
			Providers::<T>::remove(&who);
			Self::deposit_event(Event::ProviderUnregistered { provider: who, stake: info.stake });
			Ok(())
		}

		/// Set a provider's reputation (root only).
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::set_reputation())]
		pub fn set_reputation(
			origin: OriginFor<T>,
			who: AccountIdLookupOf<T>,
			reputation: u8,
		) -> DispatchResult {
			ensure_root(origin)?;
			ensure!(reputation <= MAX_REPUTATION, Error::<T>::InvalidReputation);
			let who = T::Lookup::lookup(who)?;
			let info = Self::registered(&who)?;
			Self::change_reputation(&who, info, reputation);
			Ok(())
		}
	}

	/// The number of models a call lists, for its weight.
	fn count(models: &[ModelId]) -> u32 {
		u32::try_from(models.len()).unwrap_or(u32::MAX)
	}

	impl<T: Config> Pallet<T> {
		/// `(stake / WeightStakeUnit) * (10 + reputation)`: reputation 0 keeps 1/11 of the full
		/// weight, so newcomers still receive work.
		pub fn weight_of(stake: BalanceOf<T>, reputation: u8) -> u128 {
			let unit = T::WeightStakeUnit::get();
			let units: u128 =
				if unit.is_zero() { 0 } else { (stake / unit).unique_saturated_into() };
			units.saturating_mul(10 + u128::from(reputation))
		}

		fn registered(who: &T::AccountId) -> Result<ProviderInfoOf<T>, Error<T>> {
			Providers::<T>::get(who).ok_or(Error::<T>::NotRegistered)
		}

		fn active(who: &T::AccountId) -> Result<ProviderInfoOf<T>, Error<T>> {
			let info = Self::registered(who)?;
			ensure!(info.is_active(), Error::<T>::NotActive);
			Ok(info)
		}

		/// The rules of the spec in devnode's order: endpoint, models, capacity.
		fn check_profile(
			endpoint: Vec<u8>,
			models: Vec<ModelId>,
			capacity: u32,
		) -> Result<(EndpointOf<T>, ModelsOf<T>), Error<T>> {
			ensure!(!endpoint.is_empty(), Error::<T>::EmptyEndpoint);
			let endpoint: EndpointOf<T> =
				endpoint.try_into().map_err(|_| Error::<T>::EndpointTooLong)?;
			ensure!(!models.is_empty(), Error::<T>::NoModels);
			let models: ModelsOf<T> = models.try_into().map_err(|_| Error::<T>::TooManyModels)?;
			for (i, model) in models.iter().enumerate() {
				ensure!(!models[..i].contains(model), Error::<T>::DuplicateModel);
			}
			for model in models.iter() {
				ensure!(T::Models::model_terms(model).is_some(), Error::<T>::UnknownModel);
			}
			ensure!((1..=T::MaxCapacity::get()).contains(&capacity), Error::<T>::InvalidCapacity);
			Ok((endpoint, models))
		}

		fn check_key(key: Option<[u8; 32]>) -> Result<Option<[u8; 32]>, Error<T>> {
			if let Some(key) = key {
				ensure!(key != [0u8; 32], Error::<T>::InvalidEncryptionKey);
			}
			Ok(key)
		}

		/// Appends `who` to each model's list it is not on yet; `ModelFull` at the limit.
		fn list_on_models(who: &T::AccountId, models: &[ModelId]) -> Result<(), Error<T>> {
			for model in models {
				let mut listed = ModelProviders::<T>::get(model);
				if listed.contains(who) {
					continue;
				}
				listed.try_push(who.clone()).map_err(|_| Error::<T>::ModelFull)?;
				ModelProviders::<T>::insert(model, listed);
			}
			Ok(())
		}

		/// Removes `who` from each model's list, and an emptied list from storage.
		fn unlist_from_models(who: &T::AccountId, models: &[ModelId]) {
			for model in models {
				let mut listed = ModelProviders::<T>::get(model);
				listed.retain(|p| p != who);
				if listed.is_empty() {
					ModelProviders::<T>::remove(model);
				} else {
					ModelProviders::<T>::insert(model, listed);
				}
			}
		}

		/// Writes `info` with its weight recomputed, keeping `TotalWeight` in step (only active
		/// providers count); returns what was written.
		pub(crate) fn store(who: &T::AccountId, mut info: ProviderInfoOf<T>) -> ProviderInfoOf<T> {
			let old_weight =
				Providers::<T>::get(who).filter(|old| old.is_active()).map_or(0, |old| old.weight);
			info.weight = Self::weight_of(info.stake, info.reputation);
			let new_weight = if info.is_active() { info.weight } else { 0 };
			TotalWeight::<T>::put(
				TotalWeight::<T>::get().saturating_sub(old_weight).saturating_add(new_weight),
			);
			Providers::<T>::insert(who, &info);
			info
		}

		/// devnode's `set_reputation_of` for a registered provider: clamps to 100, writes and
		/// emits `ReputationChanged` unless unchanged.
		pub(crate) fn change_reputation(
			who: &T::AccountId,
			mut info: ProviderInfoOf<T>,
			reputation: u8,
		) {
			let old = info.reputation;
			let new = reputation.min(MAX_REPUTATION);
			if new == old {
				return;
			}
			info.reputation = new;
			Self::store(who, info);
			Self::deposit_event(Event::ReputationChanged { provider: who.clone(), old, new });
		}
	}
}

/// What Inference and Channels see of the providers and the changes they make to one.
impl<T: Config> genai_primitives::ProviderRegistry<T::AccountId> for Pallet<T> {
	type Balance = BalanceOf<T>;

	fn provider(who: &T::AccountId) -> Option<genai_primitives::ProviderSnapshot<Self::Balance>> {
		Providers::<T>::get(who).map(|info| genai_primitives::ProviderSnapshot {
			stake: info.stake,
			capacity: info.capacity,
			in_flight: info.in_flight,
			reputation: info.reputation,
			weight: info.weight,
			active: info.is_active(),
			encryption_key: info.encryption_key,
		})
	}

	fn providers_of(model_id: &ModelId) -> alloc::vec::Vec<T::AccountId> {
		ModelProviders::<T>::get(model_id).into_inner()
	}

	fn total_weight() -> u128 {
		TotalWeight::<T>::get()
	}

	fn acquire_slot(who: &T::AccountId) -> frame_support::pallet_prelude::DispatchResult {
		let mut info = Providers::<T>::get(who).ok_or(Error::<T>::NotRegistered)?;
		info.in_flight = info.in_flight.saturating_add(1);
		Self::store(who, info);
		Ok(())
	}

	fn release_slot(who: &T::AccountId) {
		if let Some(mut info) = Providers::<T>::get(who) {
			if info.in_flight > 0 {
				info.in_flight -= 1;
				Self::store(who, info);
			}
		}
	}

	fn set_reputation(who: &T::AccountId, reputation: u8) {
		if let Some(info) = Providers::<T>::get(who) {
			Self::change_reputation(who, info, reputation);
		}
	}

	fn slash_stake(who: &T::AccountId, amount: Self::Balance) -> Self::Balance {
		use frame_support::traits::Get;
		use orml_traits::MultiReservableCurrency;
		use sp_runtime::traits::Saturating;
		let Some(mut info) = Providers::<T>::get(who) else {
			return Default::default();
		};
		let to_slash = amount.min(info.stake);
		let unslashed = T::Currency::slash_reserved(T::StakeCurrencyId::get(), who, to_slash);
		let slashed = to_slash.saturating_sub(unslashed);
		info.stake = info.stake.saturating_sub(slashed);
		Self::store(who, info);
		Self::deposit_event(Event::StakeSlashed { provider: who.clone(), amount: slashed });
		slashed
	}
}
